import { expect } from 'chai'
import { resolveClusterOptions, routeOfSlot } from '../../packages/cluster/src/options.js'

describe('cluster options', () => {
  it('fills in the defaults', () => {
    const o = resolveClusterOptions({})
    expect(o.strategies).to.deep.equal(['cookie', 'url-param'])
    expect(o.maxHeaderSize).to.equal(16 * 1024)
    expect(o.headersTimeout).to.equal(10_000)
    expect(o.cookieName).to.equal('tether.sid')
    expect(o.boundedLoad).to.equal(undefined)
    expect(resolveClusterOptions({ boundedLoad: true }).boundedLoad).to.equal(1.25)
    expect(o.heartbeatTimeout).to.equal(10_000)
    expect(resolveClusterOptions({ heartbeatTimeout: 0 }).heartbeatTimeout).to.equal(0)
  })

  it('names slots w<i>, or <node>-w<i>', () => {
    expect(routeOfSlot(3, undefined)).to.equal('w3')
    expect(routeOfSlot(0, 'eu-1')).to.equal('eu-1-w0')
  })

  it('throws TypeErrors that name the option and what is allowed', () => {
    const cases: Array<[object, RegExp]> = [
      [{ workers: 0 }, /^workers must be an integer from 1 to 999/],
      [{ port: 70_000 }, /^port must be/],
      [{ strategies: ['cookie', 'sticky'] }, /^strategies must be .*'client-ip'/],
      [{ strategies: [] }, /^strategies must be/],
      [{ strategies: ['cookie', 'cookie'] }, /^strategies must be .*at most once/],
      [{ maxHeaderSize: 10 }, /^maxHeaderSize must be/],
      [{ headersTimeout: -1 }, /^headersTimeout must be a positive integer number of milliseconds/],
      [{ nodeName: 'no spaces' }, /^nodeName must be/],
      [{ nodeName: '' }, /^nodeName must be 1 to 27 characters/],
      [{ boundedLoad: 0.5 }, /^boundedLoad must be/],
      [{ cookieName: 'a;b' }, /^cookieName must be/],
      [{ secret: 'short' }, /^secret must be at least 32 characters/],
      [{ strategies: ['proxy-protocol'] }, /^trustedProxies must be/],
      [
        { heartbeatTimeout: 50 },
        /^heartbeatTimeout must be 0 \(off\) or a whole number of milliseconds from 100/,
      ],
      [{ heartbeatTimeout: -1 }, /^heartbeatTimeout must be/],
    ]
    for (const [options, message] of cases)
      expect(() => resolveClusterOptions(options as never)).to.throw(TypeError, message)
  })

  it('refuses cookie or URL routing with https, since the primary cannot read encrypted requests', () => {
    const https = { key: 'k', cert: 'c' }
    expect(() => resolveClusterOptions({ https, strategies: ['cookie', 'client-ip'] })).to.throw(
      TypeError,
      /'cookie' strategy needs to read the request/,
    )
    expect(() => resolveClusterOptions({ https, strategies: ['url-param'] })).to.throw(TypeError, /https/)
    expect(resolveClusterOptions({ https }).strategies).to.deep.equal(['client-ip'])
  })
})
