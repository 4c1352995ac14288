import { Keyring } from '@tether/core'
import { parseCookieValue, verifyCookieValue } from '@tether/core/adapter'
import { expect } from 'chai'
// The source module, whose identity the cluster's worker side sets (the tests set it themselves).
import {
  routeOfSocketIoId,
  setSocketIoIdentity,
  socketIoId,
} from '../../packages/cluster/src/socket-io-id.js'
import { FIXTURE_SECRET } from './fixtures/session-cluster-secret.js'

describe('socketIoId', () => {
  const keyring = new Keyring(FIXTURE_SECRET)
  after(() => setSocketIoIdentity(undefined, undefined))

  it('makes URL-safe ids with 128 random bits, the route, and a MAC under the secret', () => {
    setSocketIoIdentity('w3', keyring)
    const ids = Array.from({ length: 1000 }, () => socketIoId())
    expect(new Set(ids).size).to.equal(1000)
    for (const id of ids) {
      expect(id).to.match(/^[A-Za-z0-9_-]{22}\.w3\.[A-Za-z0-9_-]{22}$/)
      expect(encodeURIComponent(id)).to.equal(id)
      expect(routeOfSocketIoId(id, keyring)).to.equal('w3')
    }
    // 16 random bytes: 22 base64url characters whose last one carries 2 bits.
    const randomParts = new Set(ids.map((id) => id.slice(0, 22)))
    expect(randomParts.size).to.equal(1000)
  })

  it('is refused with a forged or changed MAC, another secret, or a changed route', () => {
    setSocketIoIdentity('w1', keyring)
    const id = socketIoId()
    const [random, , mac] = id.split('.') as [string, string, string]
    expect(routeOfSocketIoId(`${random}.w2.${mac}`, keyring)).to.equal(undefined)
    expect(routeOfSocketIoId(`${random}.w1.${'A'.repeat(22)}`, keyring)).to.equal(undefined)
    expect(routeOfSocketIoId(`${random}.w1`, keyring)).to.equal(undefined)
    expect(routeOfSocketIoId(id, new Keyring('another secret of at least 32 characters!'))).to.equal(
      undefined,
    )
    expect(
      routeOfSocketIoId(id, new Keyring(['another secret of at least 32 characters!', FIXTURE_SECRET])),
    ).to.equal('w1')
  })

  it('is never a valid session cookie value', () => {
    setSocketIoIdentity('w1', keyring)
    const id = socketIoId()
    expect(parseCookieValue(id)).to.equal(undefined)
    expect(verifyCookieValue(id, keyring)).to.equal(undefined)
  })

  it('is a plain random id outside a cluster', () => {
    setSocketIoIdentity(undefined, undefined)
    expect(process.env.TETHER_ROUTE).to.equal(undefined)
    expect(socketIoId()).to.match(/^[A-Za-z0-9_-]{22}$/)
  })

  it('carries the route alone without a secret, and is only shape-checked then', () => {
    setSocketIoIdentity('w0', undefined)
    const id = socketIoId()
    expect(id).to.match(/^[A-Za-z0-9_-]{22}\.w0$/)
    expect(routeOfSocketIoId(id, undefined)).to.equal('w0')
    expect(routeOfSocketIoId('AAAAAAAAAAAAAAAAAAAAAA.w1', undefined)).to.equal('w1')
    expect(routeOfSocketIoId('short.w1', undefined)).to.equal(undefined)
    expect(routeOfSocketIoId('engine-io-own-id-abc', undefined)).to.equal(undefined)
  })
})
