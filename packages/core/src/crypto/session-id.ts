import * as crypto from 'node:crypto'
import { createHash } from 'node:crypto'
import { RandomPool } from './random-pool.js'

/** Bytes of CSPRNG output in a session token: 256 bits, far above OWASP's 64-bit minimum. */
export const TOKEN_BYTES = 32
/** Length of a token in base64url characters. */
export const TOKEN_LENGTH = 43

// One getrandom() call per 128 tokens instead of one per token.
const pool = new RandomPool(TOKEN_BYTES * 128)

/** A fresh, unguessable session token (base64url, no padding). */
export function newToken(): string {
  // Wiped from the pool as it is read, so the pool never holds a live token's bytes.
  return pool.takeBase64url(TOKEN_BYTES)
}

// crypto.hash() (Node >= 20.12) is a one-shot digest without a Hash object: about 3x cheaper.
const oneShotHash = (crypto as { hash?: (algorithm: string, data: string, encoding: 'base64url') => string })
  .hash

/**
 * The id a store files a session under: a SHA-256 of the token, never the token itself, so a
 * dump of the store (or a log line naming a key) cannot be replayed as a cookie.
 */
export function storeIdOf(token: string): string {
  if (oneShotHash !== undefined) return oneShotHash('sha256', `tether-session:${token}`, 'base64url')
  return createHash('sha256').update('tether-session:').update(token).digest('base64url')
}
