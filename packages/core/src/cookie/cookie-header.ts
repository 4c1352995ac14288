import { boolean, oneOf, optionError, positiveNumber, rejectUnknownOptions } from '../validate.js'

/** How the session cookie is sent. */
export interface CookieOptions {
  /**
   * Cookie name. With `hostPrefix` it is sent as `__Host-<name>`.
   * @default 'tether.sid'
   */
  name?: string
  /** Domain attribute; leave unset to keep the cookie to the exact host (safer). */
  domain?: string
  /** @default '/' */
  path?: string
  /**
   * Lifetime in milliseconds. Unset makes a browser-session cookie, which the server-side idle and
   * absolute timeouts still bound. When set, the cookie is re-sent whenever the session is written
   * or touched so that its expiry slides with the idle timeout.
   */
  maxAge?: number
  /** @default 'lax' — sent on top-level navigations, not on cross-site subrequests (CSRF defence). */
  sameSite?: 'lax' | 'strict' | 'none'
  /**
   * `'auto'` sets Secure when the request arrived over TLS (directly, or through a proxy the
   * framework trusts).
   * @default 'auto'
   */
  secure?: boolean | 'auto'
  /** @default true — scripts cannot read the session cookie. */
  httpOnly?: boolean
  /**
   * Send the cookie as `__Host-<name>`: browsers then require Secure, Path=/ and no Domain, so a
   * sibling subdomain cannot plant or overwrite it.
   * @default false
   */
  hostPrefix?: boolean
  /** Partitioned attribute (CHIPS), for cookies used in third-party iframes. @default false */
  partitioned?: boolean
}

export interface ResolvedCookieOptions {
  readonly name: string
  readonly domain: string | undefined
  readonly path: string
  readonly maxAge: number | undefined
  readonly sameSite: 'lax' | 'strict' | 'none'
  readonly secure: boolean | 'auto'
  readonly httpOnly: boolean
  readonly partitioned: boolean
}

const TOKEN_CHARS = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const ATTRIBUTE_VALUE = /^[\u0021-\u003A\u003C-\u007E]+$/

export function resolveCookieOptions(options: CookieOptions | undefined): ResolvedCookieOptions {
  const o = options ?? {}
  if (typeof o !== 'object' || o === null) throw optionError('cookie', 'an object', o)
  rejectUnknownOptions(
    o,
    ['name', 'domain', 'path', 'maxAge', 'sameSite', 'secure', 'httpOnly', 'hostPrefix', 'partitioned'],
    'cookie.',
  )
  const hostPrefix = boolean('cookie.hostPrefix', o.hostPrefix, false)
  let name = o.name ?? 'tether.sid'
  if (typeof name !== 'string' || !TOKEN_CHARS.test(name)) {
    throw optionError('cookie.name', 'a non-empty cookie name (RFC 6265 token characters)', name)
  }
  if (hostPrefix) name = `__Host-${name}`
  const path = o.path ?? '/'
  if (typeof path !== 'string' || !path.startsWith('/') || !ATTRIBUTE_VALUE.test(path)) {
    throw optionError('cookie.path', 'a path starting with "/" without ";" or control characters', path)
  }
  if (o.domain !== undefined && (typeof o.domain !== 'string' || !ATTRIBUTE_VALUE.test(o.domain))) {
    throw optionError('cookie.domain', 'a domain name without ";" or control characters', o.domain)
  }
  const sameSite = oneOf('cookie.sameSite', o.sameSite, ['lax', 'strict', 'none'] as const, 'lax')
  const secure =
    o.secure === 'auto' || o.secure === undefined ? 'auto' : boolean('cookie.secure', o.secure, false)
  if (hostPrefix) {
    if (o.domain !== undefined)
      throw optionError('cookie.domain', 'unset when cookie.hostPrefix is true', o.domain)
    if (path !== '/') throw optionError('cookie.path', '"/" when cookie.hostPrefix is true', path)
    if (secure === false)
      throw optionError('cookie.secure', 'true or "auto" when cookie.hostPrefix is true', secure)
  }
  if (sameSite === 'none' && secure === false) {
    throw optionError(
      'cookie.secure',
      'true or "auto" when cookie.sameSite is "none" (browsers drop it)',
      secure,
    )
  }
  return {
    name,
    domain: o.domain,
    path,
    maxAge: o.maxAge === undefined ? undefined : positiveNumber('cookie.maxAge', o.maxAge, 0),
    sameSite,
    // __Host- cookies are only accepted with Secure, whatever the transport looks like.
    secure: hostPrefix ? true : secure,
    httpOnly: boolean('cookie.httpOnly', o.httpOnly, true),
    partitioned: boolean('cookie.partitioned', o.partitioned, false),
  }
}

const SAME_SITE = { lax: 'Lax', strict: 'Strict', none: 'None' } as const

/**
 * The Set-Cookie header value for the session cookie; `value === undefined` clears it.
 * `secureRequest` is whether this request came over TLS, used when `secure` is 'auto'.
 */
export function serializeSetCookie(
  options: ResolvedCookieOptions,
  value: string | undefined,
  secureRequest: boolean,
  now = Date.now(),
): string {
  let header = `${options.name}=${value ?? ''}; Path=${options.path}`
  if (options.domain !== undefined) header += `; Domain=${options.domain}`
  if (value === undefined) {
    header += '; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT'
  } else if (options.maxAge !== undefined) {
    const seconds = Math.floor(options.maxAge / 1000)
    header += `; Max-Age=${seconds}; Expires=${new Date(now + seconds * 1000).toUTCString()}`
  }
  if (options.httpOnly) header += '; HttpOnly'
  if (options.secure === true || (options.secure === 'auto' && secureRequest)) header += '; Secure'
  header += `; SameSite=${SAME_SITE[options.sameSite]}`
  if (options.partitioned) header += '; Partitioned'
  return header
}

/** Most cookies of one name we look at: a browser sends several only when paths/domains differ. */
const MAX_SAME_NAME = 4

/**
 * Values of the cookie `name` in a Cookie header, in order, at most a few. Never throws: a header
 * that is not a string or is malformed yields what can be read from it.
 */
export function readCookieValues(header: unknown, name: string): string[] {
  if (typeof header !== 'string' || header.length === 0) return []
  const found: string[] = []
  const prefix = `${name}=`
  let start = 0
  while (start < header.length && found.length < MAX_SAME_NAME) {
    let end = header.indexOf(';', start)
    if (end === -1) end = header.length
    let i = start
    while (i < end && (header.charCodeAt(i) === 32 || header.charCodeAt(i) === 9)) i++
    if (header.startsWith(prefix, i)) {
      let value = header.slice(i + prefix.length, end).trim()
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1)
      found.push(value)
    }
    start = end + 1
  }
  return found
}
