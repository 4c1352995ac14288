import { isIP } from 'node:net'
import { expect } from 'chai'
import fc from 'fast-check'
import { readProxyHeader } from '../../packages/cluster/src/head/proxy-header.js'
import { fuzz, params, timed } from './budget.js'

const TARGET = 'PROXY v1/v2 parser'
const V2 = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a])
const bytes = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
  fc
    .tuple(
      fc.constantFrom('PROXY TCP4 ', 'PROXY TCP6 ', 'PROXY UNKNOWN', 'PROXY '),
      fc.string({ unit: 'binary-ascii', maxLength: 110 }),
    )
    .map(([p, s]) => Buffer.from(p + s, 'latin1')),
  fc.tuple(fc.ipV4(), fc.ipV4()).map(([a, b]) => Buffer.from(`PROXY TCP4 ${a} ${b} 1 2\r\nGET /`, 'latin1')),
  fc.uint8Array({ maxLength: 120 }).map((a) => Buffer.concat([V2, Buffer.from(a)])),
)

describe('fuzz: PROXY protocol parser', () => {
  it('answers one of its results for any bytes, and the same for every longer prefix once decided', () =>
    fuzz(TARGET, () =>
      fc.assert(
        fc.property(
          bytes,
          fc.nat(),
          timed(TARGET, (buffer, cut) => {
            const whole = readProxyHeader(buffer, 1024)
            expect(['incomplete', 'none', 'bad', 'ok']).to.include(whole.status)
            if (whole.status === 'ok') {
              expect(whole.length).to.be.at.most(buffer.length)
              if (whole.address !== undefined) expect(isIP(whole.address)).to.not.equal(0)
            }
            const prefix = readProxyHeader(buffer.subarray(0, cut % (buffer.length + 1)), 1024)
            if (prefix.status !== 'incomplete')
              expect(prefix.status).to.equal(whole.status === 'incomplete' ? prefix.status : whole.status)
          }),
        ),
        params(1),
      ),
    ))
})
