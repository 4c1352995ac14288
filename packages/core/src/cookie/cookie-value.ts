import type { Keyring } from '../crypto/keyring.js'
import { newToken, TOKEN_LENGTH } from '../crypto/session-id.js'

/**
 * The session cookie's value: `<token>.<route>.<mac>`.
 * - token: 32 CSPRNG bytes, base64url (43 characters);
 * - route: the owning worker (see route.ts), read by the cluster primary without any lookup;
 * - mac: HMAC-SHA256 over `<token>.<route>`, 128 bits kept, base64url (22 characters).
 */
export const MAC_BYTES = 16
export const MAC_LENGTH = 22
const MAX_VALUE_LENGTH = TOKEN_LENGTH + 1 + 32 + 1 + MAC_LENGTH
const VALUE_PATTERN = /^([A-Za-z0-9_-]{43})\.([A-Za-z0-9_-]{1,32})\.([A-Za-z0-9_-]{22})$/

/** A cookie value split into its parts; only its shape has been checked, not its MAC. */
export interface CookieParts {
  readonly token: string
  readonly route: string
  readonly mac: string
}

/** A cookie value whose MAC verified. */
export interface VerifiedCookie extends CookieParts {
  /** Index of the secret that verified it: above 0 means it should be re-issued under the newest. */
  readonly keyIndex: number
}

/**
 * Splits a cookie value into token, route and MAC after a strict shape check, or returns
 * undefined. Cheap enough to run on every request: the length test comes before the regex.
 * The cluster primary uses this to read the route; it must still be verified to be trusted.
 */
export function parseCookieValue(value: string): CookieParts | undefined {
  if (value.length > MAX_VALUE_LENGTH || value.length < TOKEN_LENGTH + 3 + MAC_LENGTH) return undefined
  const match = VALUE_PATTERN.exec(value)
  if (match === null) return undefined
  return { token: match[1]!, route: match[2]!, mac: match[3]! }
}

/** Parses and verifies a cookie value; undefined for anything malformed, forged or tampered. */
export function verifyCookieValue(value: string, keyring: Keyring): VerifiedCookie | undefined {
  const checked = checkCookieValue(value, keyring)
  return typeof checked === 'string' ? undefined : checked
}

/** Why a cookie was rejected, for metrics. */
export type CookieRejection = 'format' | 'mac'

/** Like verifyCookieValue, but says why a value was rejected. */
export function checkCookieValue(value: string, keyring: Keyring): VerifiedCookie | CookieRejection {
  const parts = parseCookieValue(value)
  if (parts === undefined) return 'format'
  const keyIndex = keyring.verify(`${parts.token}.${parts.route}`, parts.mac, MAC_BYTES)
  return keyIndex < 0 ? 'mac' : { ...parts, keyIndex }
}

/** Signs `token` and `route` with the newest secret into a cookie value. */
export function signCookieValue(token: string, route: string, keyring: Keyring): string {
  return `${token}.${route}.${keyring.sign(`${token}.${route}`, MAC_BYTES)}`
}

/** A new token signed for `route`. */
export function issueCookieValue(route: string, keyring: Keyring): { token: string; value: string } {
  const token = newToken()
  return { token, value: signCookieValue(token, route, keyring) }
}
