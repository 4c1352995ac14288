import { expect } from 'chai'
import { DRIVERS, TEST_SECRET } from '../support/adapter-drivers.js'

const BAD: Array<[string, Record<string, unknown>, RegExp]> = [
  ['no secret', {}, /^secret must be/],
  ['a short secret', { secret: 'short' }, /secret/],
  ['a negative retryAfter', { secret: TEST_SECRET, retryAfter: -1 }, /^retryAfter must be a whole number/],
  ['a fractional retryAfter', { secret: TEST_SECRET, retryAfter: 1.5 }, /^retryAfter must be/],
  ['a zero idleTimeout', { secret: TEST_SECRET, idleTimeout: 0 }, /^idleTimeout must be a positive number/],
  [
    'an unknown sameSite',
    { secret: TEST_SECRET, cookie: { sameSite: 'loose' } },
    /^cookie\.sameSite must be/,
  ],
  ['a store without methods', { secret: TEST_SECRET, store: {} }, /^store must be a SessionStore/],
  ['a bad route', { secret: TEST_SECRET, route: 'a.b' }, /^route must be/],
  [
    'a negative decryptedCacheBytes',
    { secret: TEST_SECRET, decryptedCacheBytes: -1 },
    /^decryptedCacheBytes must be a whole number of bytes/,
  ],
  [
    'hostPrefix with a domain',
    { secret: TEST_SECRET, cookie: { hostPrefix: true, domain: 'x.test' } },
    /cookie\.domain/,
  ],
]

for (const driver of DRIVERS) {
  describe(`${driver.name}: bad options fail when the adapter is mounted`, () => {
    for (const [what, options, message] of BAD) {
      it(`rejects ${what} with a TypeError naming the option`, async () => {
        let error: unknown
        await driver.mount(options).catch((e: unknown) => {
          error = e
        })
        expect(error).to.be.instanceOf(TypeError)
        expect((error as Error).message).to.match(message)
      })
    }

    it('accepts good options', async () => {
      await driver.mount({
        secret: TEST_SECRET,
        retryAfter: 0,
        cookie: { sameSite: 'strict' },
        decryptedCacheBytes: 0,
      })
    })
  })
}
