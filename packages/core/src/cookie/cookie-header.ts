import { boolean, oneOf, optionError, positiveNumber, rejectUnknownOptions } from '../validate.js'

/** How the session cookie is sent. */
export interface CookieOptions {
  /**
   * Cookie name. Where the `__Host-` prefix applies (see `hostPrefix`) it is sent as `__Host-<name>`.
   * A name that starts with `__Host-` or `__Secure-` (in any case) is sent as it is and always
   * Secure, since browsers refuse it otherwise; `__Host-` also means `hostPrefix: true`.
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
   * or touched so that its expiry slides with the idle timeout. Sent as whole seconds, at least one
   * and at most 400 days, the most browsers keep a cookie (RFC 6265bis).
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
   * sibling subdomain cannot plant, overwrite or shadow it (cookie tossing). By default the prefix
   * is used wherever the cookie allows it: no `domain`, `path` '/', and a Secure cookie (`secure:
   * true`, or `'auto'` on a request that came over TLS); a plain-http request (local development)
   * and a cookie with a `domain` keep the plain name. `true` insists on the prefix (and refuses a
   * setup that does not allow it); `false` never uses it.
   * @default undefined (wherever the cookie allows it)
   */
  hostPrefix?: boolean
  /** Partitioned attribute (CHIPS), for cookies used in third-party iframes. @default false */
  partitioned?: boolean
}

export interface ResolvedCookieOptions {
  /** The plain name, sent where the `__Host-` prefix does not apply. */
  readonly name: string
  /** `__Host-<name>`, sent on every Secure cookie; undefined when the prefix is off. */
  readonly hostName: string | undefined
  /** The names a request's session cookie is read under, in order (the prefixed one first). */
  readonly readNames: readonly string[]
  readonly domain: string | undefined
  readonly path: string
  readonly maxAge: number | undefined
  readonly sameSite: 'lax' | 'strict' | 'none'
  readonly secure: boolean | 'auto'
  readonly httpOnly: boolean
  readonly partitioned: boolean
}

const TOKEN_CHARS = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const HOST_PREFIX = /^__Host-/i
const SECURE_PREFIX = /^__Secure-/i
const ATTRIBUTE_VALUE = /^[\u0021-\u003A\u003C-\u007E]+$/

export function resolveCookieOptions(options: CookieOptions | undefined): ResolvedCookieOptions {
  const o = options ?? {}
  if (typeof o !== 'object' || o === null) throw optionError('cookie', 'an object', o)
  rejectUnknownOptions(
    o,
    ['name', 'domain', 'path', 'maxAge', 'sameSite', 'secure', 'httpOnly', 'hostPrefix', 'partitioned'],
    'cookie.',
  )
  if (o.hostPrefix !== undefined) boolean('cookie.hostPrefix', o.hostPrefix, false)
  let name = o.name ?? 'tether.sid'
  if (typeof name !== 'string' || !TOKEN_CHARS.test(name)) {
    throw optionError('cookie.name', 'a non-empty cookie name (RFC 6265 token characters)', name)
  }
  // A name that already carries a prefix asks for what browsers require of it (RFC 6265bis 4.1.3,
  // prefixes matched in any case): a __Host- cookie Secure, on Path=/, without Domain; a __Secure-
  // one Secure. Sent without that, it would be refused on every response.
  const namedHost = HOST_PREFIX.test(name)
  const namedSecure = SECURE_PREFIX.test(name)
  if (namedHost && o.hostPrefix === false) {
    throw optionError('cookie.hostPrefix', 'true or unset when cookie.name starts with "__Host-"', false)
  }
  const hostPrefix = o.hostPrefix === true || namedHost
  if (hostPrefix) name = hostNameOf(name)
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
  if (namedSecure && secure === false) {
    throw optionError('cookie.secure', 'true or "auto" when cookie.name starts with "__Secure-"', secure)
  }
  if (hostPrefix) {
    const why = namedHost ? 'cookie.name starts with "__Host-"' : 'cookie.hostPrefix is true'
    if (o.domain !== undefined) throw optionError('cookie.domain', `unset when ${why}`, o.domain)
    if (path !== '/') throw optionError('cookie.path', `"/" when ${why}`, path)
    if (secure === false) throw optionError('cookie.secure', `true or "auto" when ${why}`, secure)
  }
  if (sameSite === 'none' && secure === false) {
    throw optionError(
      'cookie.secure',
      'true or "auto" when cookie.sameSite is "none" (browsers drop it)',
      secure,
    )
  }
  // The prefix by default wherever browsers accept it; a name that already has one keeps it.
  const hostName = hostPrefix
    ? name
    : o.hostPrefix === undefined && !namedSecure && o.domain === undefined && path === '/' && secure !== false
      ? hostNameOf(name)
      : undefined
  const plain = hostPrefix || secure === true || namedSecure ? undefined : name
  return {
    name: plain ?? hostName ?? name,
    hostName,
    // The plain name is read after the prefixed one, so it can never shadow it: a tossed cookie is
    // looked at only when no prefixed cookie verifies (and sessions issued before the prefix
    // became the default are found, then re-issued under it on their next TLS request).
    readNames: hostName === undefined || hostName === name ? [name] : [hostName, name],
    domain: o.domain,
    path,
    maxAge: o.maxAge === undefined ? undefined : positiveNumber('cookie.maxAge', o.maxAge, 0),
    sameSite,
    // __Host- and __Secure- cookies are only accepted with Secure, whatever the transport looks like.
    secure: hostPrefix || namedSecure ? true : secure,
    httpOnly: boolean('cookie.httpOnly', o.httpOnly, true),
    partitioned: boolean('cookie.partitioned', o.partitioned, false),
  }
}

const SAME_SITE = { lax: 'Lax', strict: 'Strict', none: 'None' } as const
/** Browsers keep a cookie at most 400 days, whatever Max-Age says (RFC 6265bis 5.6.1). */
const MAX_AGE_SECONDS = 400 * 24 * 3600

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
  const secure = options.secure === true || (options.secure === 'auto' && secureRequest)
  const name = secure && options.hostName !== undefined ? options.hostName : options.name
  let header = `${name}=${value ?? ''}; Path=${options.path}`
  if (options.domain !== undefined) header += `; Domain=${options.domain}`
  if (value === undefined) {
    header += '; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT'
  } else if (options.maxAge !== undefined) {
    // Never 0, which deletes the cookie; never past the cap, beyond which Expires is no date.
    const seconds = Math.min(MAX_AGE_SECONDS, Math.max(1, Math.floor(options.maxAge / 1000)))
    header += `; Max-Age=${seconds}; Expires=${new Date(now + seconds * 1000).toUTCString()}`
  }
  if (options.httpOnly) header += '; HttpOnly'
  if (secure) header += '; Secure'
  header += `; SameSite=${SAME_SITE[options.sameSite]}`
  if (options.partitioned) header += '; Partitioned'
  return header
}

/** `__Host-<name>` (a name that already carries the prefix, in any case, is returned as is). */
export function hostNameOf(name: string): string {
  return HOST_PREFIX.test(name) ? name : `__Host-${name}`
}

/**
 * The names a session cookie called `name` (the adapters' `cookie.name`) may arrive under, in the
 * order to read them: `__Host-<name>`, then `<name>`. What the cluster's router reads.
 */
export function sessionCookieNames(name: string): readonly string[] {
  const host = hostNameOf(name)
  return host === name ? [name] : [host, name]
}

/**
 * Most values looked at per request. A browser sends one cookie of a name per domain and path that
 * match the request, so a sibling subdomain can put a cookie before the real one for each parent
 * domain and each prefix of the URL's path (deeper paths come first): a few for most URLs, never
 * near this. It bounds the work of a hostile header to this many shape checks and HMACs.
 */
const MAX_SAME_NAME = 64

/**
 * Values of the cookie `name` in a Cookie header, in order (with several names, every value of
 * the first, then of the next), at most 64 in all. Never throws: a header that is not a string or
 * is malformed yields what can be read from it.
 */
export function readCookieValues(header: unknown, name: string | readonly string[]): string[] {
  if (typeof header !== 'string' || header.length === 0) return []
  if (typeof name === 'string') return readValues(header, name, [])
  const found: string[] = []
  for (const one of name) readValues(header, one, found)
  return found
}

function readValues(header: string, name: string, found: string[]): string[] {
  let start = 0
  while (start < header.length && found.length < MAX_SAME_NAME) {
    let end = header.indexOf(';', start)
    if (end === -1) end = header.length
    let i = start
    while (i < end && (header.charCodeAt(i) === 32 || header.charCodeAt(i) === 9)) i++
    // `<name>=` at i, without building that string per request.
    if (header.startsWith(name, i) && header.charCodeAt(i + name.length) === 61) {
      let value = header.slice(i + name.length + 1, end).trim()
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1)
      found.push(value)
    }
    start = end + 1
  }
  return found
}
