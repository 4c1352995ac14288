import { createHash, randomBytes } from 'node:crypto'

/** Bytes of CSPRNG output in a session token: 256 bits, far above OWASP's 64-bit minimum. */
export const TOKEN_BYTES = 32
/** Length of a token in base64url characters. */
export const TOKEN_LENGTH = 43

/** A fresh, unguessable session token (base64url, no padding). */
export function newToken(): string {
  return randomBytes(TOKEN_BYTES).toString('base64url')
}

/**
 * The id a store files a session under: a SHA-256 of the token, never the token itself, so a
 * dump of the store (or a log line naming a key) cannot be replayed as a cookie.
 */
export function storeIdOf(token: string): string {
  return createHash('sha256').update('tether-session:').update(token).digest('base64url')
}
