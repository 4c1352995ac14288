import { expect } from 'chai'
import fc from 'fast-check'
import { clientAddress, trustedProxies } from '../../packages/cluster/src/strategies/client-ip.js'
import { fuzz, params, timed } from './budget.js'

const TARGET = 'X-Forwarded-For walker'
const trusted = trustedProxies(['loopback', '10.0.0.0/8'])
const hop = fc.oneof(
  fc.ipV4(),
  fc.ipV6(),
  fc.constantFrom(
    '10.1.2.3',
    '127.0.0.1',
    '::1',
    '[::1]:80',
    '10.0.0.9:443',
    'unknown',
    '',
    ' ',
    'fe80::1%eth0',
  ),
  fc.string({ maxLength: 12 }),
)
const xff = fc.array(hop, { maxLength: 8 }).map((h) => h.join(','))
const head = (header: string) => ({
  method: 'GET',
  target: '/',
  headers: new Map([['x-forwarded-for', header]]),
})

describe('fuzz: X-Forwarded-For walker', () => {
  it('never throws, and what a client writes left of an untrusted hop never changes the result', () =>
    fuzz(TARGET, () =>
      fc.assert(
        fc.property(
          xff,
          xff,
          fc.constantFrom('127.0.0.1', '10.0.0.2', '203.0.113.7'),
          timed(TARGET, (forged, real, peer) => {
            const input = (header: string) => ({
              head: head(header),
              peerAddress: peer,
              proxyAddress: undefined,
            })
            const address = clientAddress(input(real), trusted)
            if (!trusted.has(address)) {
              expect(clientAddress(input(`${forged},${real}`), trusted)).to.equal(address)
            }
            if (!trusted.has(peer)) expect(address).to.equal(peer)
          }),
        ),
        params(1),
      ),
    ))
})
