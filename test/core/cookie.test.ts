import { Keyring } from '@tether/core'
import { issueCookieValue, parseCookieValue, readCookieValues, verifyCookieValue } from '@tether/core/adapter'
import { expect } from 'chai'
import fc from 'fast-check'
import {
  resolveCookieOptions,
  serializeSetCookie,
  sessionCookieNames,
} from '../../packages/core/src/cookie/cookie-header.js'
import { checkCookieValue, signCookieValue } from '../../packages/core/src/cookie/cookie-value.js'
import { TOKEN_LENGTH } from '../../packages/core/src/crypto/session-id.js'

const keyring = new Keyring('a'.repeat(32))
const otherKeyring = new Keyring('b'.repeat(32))

describe('session cookie value', () => {
  it('is <43-char token>.<route>.<22-char mac> and verifies', () => {
    const { token, value } = issueCookieValue('w3', keyring)
    expect(token).to.have.length(TOKEN_LENGTH)
    expect(value).to.match(/^[A-Za-z0-9_-]{43}\.w3\.[A-Za-z0-9_-]{22}$/)
    expect(verifyCookieValue(value, keyring)).to.deep.include({ token, route: 'w3', keyIndex: 0 })
  })

  it('gives a different token every time', () => {
    const tokens = new Set(Array.from({ length: 1000 }, () => issueCookieValue('w0', keyring).token))
    expect(tokens.size).to.equal(1000)
  })

  it('does not verify under another secret', () => {
    const { value } = issueCookieValue('w0', keyring)
    expect(checkCookieValue(value, otherKeyring)).to.equal('mac')
  })

  it('rejects malformed values before any MAC work', () => {
    const { value } = issueCookieValue('w0', keyring)
    const cases = [
      '',
      'x',
      value.slice(0, -1),
      `${value}x`,
      `${value}.`,
      value.replace('.', '..'),
      value.replace(/\./g, ''),
      value.replace(/^./, '+'),
      `${value.split('.')[0]}.${'r'.repeat(33)}.${value.split('.')[2]}`,
      `${value.split('.')[0]}..${value.split('.')[2]}`,
      'j'.repeat(10_240),
      `${value};`,
      ` ${value}`,
    ]
    for (const bad of cases)
      expect(checkCookieValue(bad, keyring), JSON.stringify(bad.slice(0, 80))).to.equal('format')
  })

  it('verifies a cookie of any older secret in the ring and says which', () => {
    const old = new Keyring('o'.repeat(32))
    const { value } = issueCookieValue('w1', old)
    const rotated = new Keyring(['n'.repeat(32), 'o'.repeat(32)])
    expect(verifyCookieValue(value, rotated)?.keyIndex).to.equal(1)
  })

  describe('properties', () => {
    it('arbitrary strings never throw and never verify', () => {
      fc.assert(
        fc.property(fc.string({ maxLength: 200 }), (s) => {
          expect(verifyCookieValue(s, keyring)).to.equal(undefined)
        }),
        { numRuns: 2000 },
      )
    })

    it('arbitrary well-shaped values never verify', () => {
      const b64 = fc.constantFrom(
        ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split(''),
      )
      const part = (min: number, max: number) =>
        fc.array(b64, { minLength: min, maxLength: max }).map((a) => a.join(''))
      fc.assert(
        fc.property(part(43, 43), part(1, 32), part(22, 22), (t, r, m) => {
          expect(checkCookieValue(`${t}.${r}.${m}`, keyring)).to.equal('mac')
        }),
        { numRuns: 2000 },
      )
    })

    it('arbitrary bytes decoded as latin1 never throw and never verify', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
          expect(verifyCookieValue(Buffer.from(bytes).toString('latin1'), keyring)).to.equal(undefined)
        }),
        { numRuns: 2000 },
      )
    })

    it('only issued cookies verify: flipping any bit of an issued cookie fails', () => {
      fc.assert(
        fc.property(fc.stringMatching(/^[A-Za-z0-9_-]{1,32}$/), fc.nat(), fc.nat(7), (route, at, bit) => {
          const { value } = issueCookieValue(route, keyring)
          expect(verifyCookieValue(value, keyring)?.route).to.equal(route)
          const bytes = Buffer.from(value, 'latin1')
          const i = at % bytes.length
          bytes[i] = bytes[i]! ^ (1 << bit)
          expect(verifyCookieValue(bytes.toString('latin1'), keyring)).to.equal(undefined)
        }),
        { numRuns: 3000 },
      )
    })

    it('changing the route of a signed cookie fails', () => {
      const { token } = issueCookieValue('w0', keyring)
      const signed = signCookieValue(token, 'w0', keyring)
      const moved = signed.replace('.w0.', '.w1.')
      expect(verifyCookieValue(moved, keyring)).to.equal(undefined)
      expect(parseCookieValue(moved)?.route).to.equal('w1')
    })
  })
})

describe('Cookie header', () => {
  it('finds the named cookie among others', () => {
    expect(readCookieValues('a=1; tether.sid=abc; b=2', 'tether.sid')).to.deep.equal(['abc'])
    expect(readCookieValues('tether.sid=abc', 'tether.sid')).to.deep.equal(['abc'])
    expect(readCookieValues('xtether.sid=abc', 'tether.sid')).to.deep.equal([])
    expect(readCookieValues('tether.sid="abc"', 'tether.sid')).to.deep.equal(['abc'])
  })

  it('returns every same-named cookie (up to 64) so planted ones cannot hide the real one', () => {
    expect(readCookieValues('s=planted; s=real', 's')).to.deep.equal(['planted', 'real'])
    const tossed = [...Array(10).fill('s=x'), 's=real'].join('; ')
    expect(readCookieValues(tossed, 's')).to.have.length(11).and.to.include('real')
    expect(readCookieValues(Array(100).fill('s=x').join('; '), 's')).to.have.length(64)
  })

  it('reads several names in order: every value of the first, then of the next', () => {
    const header = 's=plain1; __Host-s=host; s=plain2'
    expect(readCookieValues(header, ['__Host-s', 's'])).to.deep.equal(['host', 'plain1', 'plain2'])
  })

  it('never throws on junk', () => {
    fc.assert(
      fc.property(fc.anything(), (junk) => {
        expect(readCookieValues(junk, 's')).to.be.an('array')
      }),
    )
  })

  it('serialises safe defaults: HttpOnly, SameSite=Lax, Path=/, Secure and __Host- only on TLS', () => {
    const options = resolveCookieOptions(undefined)
    expect(serializeSetCookie(options, 'v', false)).to.equal('tether.sid=v; Path=/; HttpOnly; SameSite=Lax')
    expect(serializeSetCookie(options, 'v', true)).to.equal(
      '__Host-tether.sid=v; Path=/; HttpOnly; Secure; SameSite=Lax',
    )
  })

  describe('the __Host- prefix by default', () => {
    it('is used on every cookie with secure: true, and read before the plain name', () => {
      const options = resolveCookieOptions({ secure: true })
      expect(serializeSetCookie(options, 'v', false)).to.match(/^__Host-tether\.sid=v; Path=\/; .*Secure/)
      expect(options.readNames).to.deep.equal(['__Host-tether.sid', 'tether.sid'])
    })

    it('is not used where browsers would refuse it: a domain, another path, or secure: false', () => {
      for (const cookie of [{ domain: 'example.com' }, { path: '/app' }, { secure: false }] as const) {
        const options = resolveCookieOptions(cookie)
        expect(serializeSetCookie(options, 'v', true)).to.match(/^tether\.sid=v; /)
        expect(options.readNames).to.deep.equal(['tether.sid'])
      }
    })

    it('is not used with hostPrefix: false', () => {
      const options = resolveCookieOptions({ hostPrefix: false, secure: true })
      expect(serializeSetCookie(options, 'v', true)).to.match(/^tether\.sid=v; .*Secure/)
      expect(options.readNames).to.deep.equal(['tether.sid'])
    })

    it('applies to a custom name too', () => {
      const options = resolveCookieOptions({ name: 'shop' })
      expect(serializeSetCookie(options, 'v', true)).to.match(/^__Host-shop=v; /)
      expect(options.readNames).to.deep.equal(['__Host-shop', 'shop'])
    })
  })

  it('clears with Max-Age=0 and an old Expires', () => {
    const header = serializeSetCookie(resolveCookieOptions({ domain: 'example.com' }), undefined, false)
    expect(header).to.equal(
      'tether.sid=; Path=/; Domain=example.com; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax',
    )
  })

  it('adds Max-Age and Expires when maxAge is set', () => {
    const header = serializeSetCookie(
      resolveCookieOptions({ maxAge: 60_000 }),
      'v',
      false,
      Date.UTC(2030, 0, 1),
    )
    expect(header).to.contain('Max-Age=60; Expires=Tue, 01 Jan 2030 00:01:00 GMT')
  })

  it('never sends Max-Age=0 for a maxAge under a second (it would delete the cookie)', () => {
    for (const maxAge of [1, 500, 999.9]) {
      const header = serializeSetCookie(resolveCookieOptions({ maxAge }), 'v', false, Date.UTC(2030, 0, 1))
      expect(header).to.contain('Max-Age=1; Expires=Tue, 01 Jan 2030 00:00:01 GMT')
    }
  })

  it('caps Max-Age at 400 days, so that Expires stays a date', () => {
    for (const maxAge of [401 * 86_400_000, Number.MAX_SAFE_INTEGER, Number.MAX_VALUE]) {
      const header = serializeSetCookie(resolveCookieOptions({ maxAge }), 'v', false, Date.UTC(2030, 0, 1))
      expect(header).to.contain('Max-Age=34560000; Expires=Wed, 05 Feb 2031 00:00:00 GMT')
    }
  })

  describe('a name that carries a prefix', () => {
    it('__Host-: always Secure, never prefixed twice, and found by the router', () => {
      for (const extra of [{}, { hostPrefix: true }]) {
        const options = resolveCookieOptions({ name: '__Host-sid', ...extra })
        expect(serializeSetCookie(options, 'v', false)).to.equal(
          '__Host-sid=v; Path=/; HttpOnly; Secure; SameSite=Lax',
        )
        expect(options.readNames).to.deep.equal(['__Host-sid'])
        expect(sessionCookieNames('__Host-sid')).to.deep.equal(['__Host-sid'])
      }
      expect(serializeSetCookie(resolveCookieOptions({ name: '__host-sid' }), 'v', false)).to.match(
        /^__host-sid=v; .*; Secure;/,
      )
    })

    it('__Host-: refuses what browsers refuse with it', () => {
      expect(() => resolveCookieOptions({ name: '__Host-sid', hostPrefix: false })).to.throw(
        TypeError,
        /cookie\.hostPrefix/,
      )
      expect(() => resolveCookieOptions({ name: '__Host-sid', domain: 'a.com' })).to.throw(
        TypeError,
        /cookie\.domain must be unset when cookie\.name starts with "__Host-"/,
      )
      expect(() => resolveCookieOptions({ name: '__Host-sid', path: '/app' })).to.throw(
        TypeError,
        /cookie\.path/,
      )
      expect(() => resolveCookieOptions({ name: '__Host-sid', secure: false })).to.throw(
        TypeError,
        /cookie\.secure/,
      )
    })

    it('__Secure-: always Secure, sent under its own name, secure: false refused', () => {
      const options = resolveCookieOptions({ name: '__Secure-sid' })
      expect(serializeSetCookie(options, 'v', false)).to.equal(
        '__Secure-sid=v; Path=/; HttpOnly; Secure; SameSite=Lax',
      )
      expect(serializeSetCookie(options, 'v', true)).to.match(/^__Secure-sid=v; /)
      expect(() => resolveCookieOptions({ name: '__Secure-sid', secure: false })).to.throw(
        TypeError,
        /cookie\.secure must be true or "auto" when cookie\.name starts with "__Secure-"/,
      )
    })
  })

  it('supports the __Host- prefix, which forces Secure and forbids Domain', () => {
    const options = resolveCookieOptions({ hostPrefix: true, name: 'sid' })
    expect(serializeSetCookie(options, 'v', false)).to.equal(
      '__Host-sid=v; Path=/; HttpOnly; Secure; SameSite=Lax',
    )
    expect(() => resolveCookieOptions({ hostPrefix: true, domain: 'a.com' })).to.throw(
      TypeError,
      /cookie\.domain/,
    )
    expect(() => resolveCookieOptions({ hostPrefix: true, path: '/app' })).to.throw(TypeError, /cookie\.path/)
    expect(() => resolveCookieOptions({ hostPrefix: true, secure: false })).to.throw(
      TypeError,
      /cookie\.secure/,
    )
  })

  it('validates cookie options by name', () => {
    expect(() => resolveCookieOptions({ name: 'a b' })).to.throw(TypeError, /cookie\.name/)
    expect(() => resolveCookieOptions({ sameSite: 'loose' as never })).to.throw(
      TypeError,
      /cookie\.sameSite must be one of/,
    )
    expect(() => resolveCookieOptions({ maxAge: -5 })).to.throw(TypeError, /cookie\.maxAge/)
    expect(() => resolveCookieOptions({ path: 'x;y' })).to.throw(TypeError, /cookie\.path/)
    expect(() => resolveCookieOptions({ sameSite: 'none', secure: false })).to.throw(
      TypeError,
      /cookie\.secure/,
    )
  })
})
