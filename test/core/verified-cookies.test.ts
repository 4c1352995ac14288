// VerifiedCookies (added for the adapters' per-request cost): a bounded memory of
// cookie values that verified, so a repeated cookie costs no HMAC and no SHA-256.

import { Keyring } from '@tether/core'
import { issueCookieValue } from '@tether/core/adapter'
import { expect } from 'chai'
import { checkCookieValue } from '../../packages/core/src/cookie/cookie-value.js'
import { VerifiedCookies } from '../../packages/core/src/cookie/verified-cookies.js'
import { storeIdOf } from '../../packages/core/src/crypto/session-id.js'

const SECRET = 'v'.repeat(32)

describe('VerifiedCookies', () => {
  const keyring = new Keyring(SECRET)

  it('answers like checkCookieValue, with the store id, and remembers verified values', () => {
    const cache = new VerifiedCookies(keyring)
    const { token, value } = issueCookieValue('w1', keyring)
    const first = cache.check(value)
    expect(first).to.deep.equal({
      ...(checkCookieValue(value, keyring) as object),
      storeId: storeIdOf(token),
    })
    expect(cache.size).to.equal(1)
    expect(cache.check(value)).to.equal(first)
  })

  it('never remembers forged, tampered or malformed values', () => {
    const cache = new VerifiedCookies(keyring)
    const { value } = issueCookieValue('w1', keyring)
    cache.check(value)
    const tampered = `${value.slice(0, -1)}${value.endsWith('A') ? 'B' : 'A'}`
    expect(cache.check(tampered)).to.equal('mac')
    expect(cache.check(tampered)).to.equal('mac')
    expect(cache.check('nonsense')).to.equal('format')
    const other = issueCookieValue('w1', new Keyring('o'.repeat(32))).value
    expect(cache.check(other)).to.equal('mac')
    expect(cache.size).to.equal(1)
  })

  it('keeps at most `capacity` values, dropping the oldest first', () => {
    const cache = new VerifiedCookies(keyring, 3)
    const values = Array.from({ length: 5 }, () => issueCookieValue('w1', keyring).value)
    for (const value of values) cache.check(value)
    expect(cache.size).to.equal(3)
    // The newest are still answered from memory (same object), the oldest is verified again.
    const newest = cache.check(values[4]!)
    expect(cache.check(values[4]!)).to.equal(newest)
    expect(cache.check(values[0]!)).to.deep.include({ keyIndex: 0 })
    expect(cache.size).to.equal(3)
  })

  it('reports the key index so rotated cookies are still re-issued', () => {
    const old = new Keyring('a'.repeat(32))
    const { value } = issueCookieValue('w1', old)
    const cache = new VerifiedCookies(new Keyring(['b'.repeat(32), 'a'.repeat(32)]))
    expect(cache.check(value)).to.deep.include({ keyIndex: 1 })
    expect(cache.check(value)).to.deep.include({ keyIndex: 1 })
  })
})
