import { validateHeaderValue } from 'node:http'
import { expect } from 'chai'
import fc from 'fast-check'
import {
  type CookieOptions,
  resolveCookieOptions,
  serializeSetCookie,
  sessionCookieNames,
} from '../../packages/core/src/cookie/cookie-header.js'
import { signCookieValue } from '../../packages/core/src/cookie/cookie-value.js'
import { Keyring } from '../../packages/core/src/crypto/keyring.js'
import { newToken } from '../../packages/core/src/crypto/session-id.js'
import { fuzzProperty } from './budget.js'
import { parseSetCookie } from './set-cookie-parser.js'

/*
 * Tether's own Set-Cookie, for any cookie options the validator accepts, read back by an
 * independent parser: the name, value and every attribute as the options document them, one
 * header line Node will send, and a cookie browsers keep (RFC 6265bis: a __Host- cookie is Secure,
 * on Path=/ and without Domain; a __Secure- one is Secure; Max-Age counts whole seconds, at most
 * 400 days, and a positive maxAge never deletes the cookie).
 */

const TARGET = 'Set-Cookie'
const keyring = new Keyring('k'.repeat(32))
/** Browsers cap Max-Age (and Expires) at 400 days (RFC 6265bis 5.5). */
const MAX_AGE_CAP = 400 * 24 * 3600
const SAME_SITE = { lax: 'Lax', strict: 'Strict', none: 'None' } as const

const TCHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".split('')
/** Printable ASCII and a few bytes the validator must refuse (";", space, controls, unicode). */
const attributeChar = fc.oneof(
  { weight: 20, arbitrary: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)) },
  fc.constantFrom(';', ' ', '\t', '\r', '\n', '\0', 'é', '€'),
)
const name = fc.oneof(
  fc.string({ unit: fc.constantFrom(...TCHARS), minLength: 1, maxLength: 16 }),
  fc.constantFrom(
    'tether.sid',
    '__Host-sid',
    '__Secure-sid',
    '__host-sid',
    '__SECURE-sid',
    'Path',
    'Expires',
    'Max-Age',
    'a b',
    '',
    'é',
  ),
)
const maxAge = fc.oneof(
  fc.integer({ min: 1, max: 2 ** 40 }),
  fc.double({ min: 0, max: 1e300, noNaN: true }),
  fc.constantFrom(1, 999, 1000, 1999, MAX_AGE_CAP * 1000, MAX_AGE_CAP * 1000 + 999, 8.64e15, 1e21, 2 ** 53),
  fc.constantFrom(Number.MAX_VALUE, Number.MIN_VALUE, 0, -1, Number.POSITIVE_INFINITY, Number.NaN),
)
const options: fc.Arbitrary<CookieOptions> = fc.record(
  {
    name,
    domain: fc.oneof(
      fc.string({ unit: attributeChar, maxLength: 24 }),
      fc.constantFrom('example.com', '.shop.example'),
    ),
    path: fc.oneof(
      fc.string({ unit: attributeChar, maxLength: 24 }).map((p) => `/${p}`),
      fc.constantFrom('/', 'relative', ''),
    ),
    maxAge,
    sameSite: fc.constantFrom('lax', 'strict', 'none'),
    secure: fc.constantFrom(true, false, 'auto'),
    httpOnly: fc.boolean(),
    hostPrefix: fc.boolean(),
    partitioned: fc.boolean(),
  },
  { requiredKeys: [] },
) as fc.Arbitrary<CookieOptions>

/** The cookie as the options' documentation promises it, in set-cookie-parser's terms. */
function expectedCookie(o: CookieOptions, value: string | undefined, secureRequest: boolean, now: number) {
  const plain = o.name ?? 'tether.sid'
  const namedHost = /^__host-/i.test(plain)
  const namedSecure = /^__secure-/i.test(plain)
  const hostPrefix = o.hostPrefix === true || namedHost
  const secure = hostPrefix || namedSecure || o.secure === true || (o.secure !== false && secureRequest)
  const prefixAllowed = o.hostPrefix === undefined && !namedSecure && o.domain === undefined
  const prefixed = secure && (hostPrefix || (prefixAllowed && (o.path ?? '/') === '/'))
  const cookie: Record<string, unknown> = {
    name: prefixed && !namedHost ? `__Host-${plain}` : plain,
    value: value ?? '',
    path: o.path ?? '/',
  }
  if (o.domain !== undefined) cookie.domain = o.domain
  if (value === undefined) {
    cookie.maxAge = 0
    cookie.expires = new Date(0)
  } else if (o.maxAge !== undefined) {
    const seconds = Math.min(MAX_AGE_CAP, Math.max(1, Math.floor(o.maxAge / 1000)))
    cookie.maxAge = seconds
    cookie.expires = new Date(Math.floor(now / 1000) * 1000 + seconds * 1000)
  }
  if (o.httpOnly !== false) cookie.httpOnly = true
  if (secure) cookie.secure = true
  cookie.sameSite = SAME_SITE[o.sameSite ?? 'lax']
  if (o.partitioned === true) cookie.partitioned = true
  return cookie
}

describe('fuzz: Set-Cookie, the session cookie Tether writes', () => {
  it('reads back as the options say, under any options the validator accepts', () =>
    fuzzProperty(
      TARGET,
      0.8,
      options,
      fc.boolean(),
      fc.boolean(),
      fc.integer({ min: 0, max: Date.UTC(2200, 0, 1) }),
      fc.stringMatching(/^[a-z0-9-]{1,32}$/),
      (o, clear, secureRequest, now, route) => {
        let resolved: ReturnType<typeof resolveCookieOptions>
        try {
          resolved = resolveCookieOptions(o)
        } catch (error) {
          expect(error).to.be.instanceOf(TypeError)
          return
        }
        const value = clear ? undefined : signCookieValue(newToken(), route, keyring)
        const header = serializeSetCookie(resolved, value, secureRequest, now)
        expect(() => validateHeaderValue('Set-Cookie', header)).not.to.throw()
        const expected = expectedCookie(o, value, secureRequest, now)
        // set-cookie-parser drops cookies named like Object.prototype's members: nothing to compare.
        if ((expected.name as string) in {}) return
        const parsed = parseSetCookie([header])
        expect(parsed, header).to.have.length(1)
        expect({ ...parsed[0] }, header).to.deep.equal(expected)
        // The cluster's router finds it under the same cookie name.
        expect(sessionCookieNames(o.name ?? 'tether.sid')).to.include(expected.name)
        const sent = expected.name as string
        if (/^__host-/i.test(sent)) {
          expect(expected, `a browser refuses ${header}`).to.include({ secure: true, path: '/' })
          expect(expected).not.to.have.property('domain')
        }
        if (/^__secure-/i.test(sent)) expect(expected.secure, `a browser refuses ${header}`).to.equal(true)
      },
    ))
})
