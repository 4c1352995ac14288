import { createCipheriv, createDecipheriv } from 'node:crypto'
import type { Keyring } from './keyring.js'
import { RandomPool } from './random-pool.js'

/**
 * Encryption at rest: AES-256-GCM in a versioned envelope, base64url-encoded so every store can
 * keep it as a string.
 *
 *   byte 0      envelope version (1)
 *   bytes 1-4   key id (which secret's derived key encrypted it, so keys can rotate)
 *   bytes 5-16  96-bit random IV
 *   bytes 17-32 128-bit GCM tag
 *   bytes 33-   ciphertext
 *
 * The associated data binds a ciphertext to its session and field: copied to another session or
 * another key of the same session, it no longer decrypts.
 */
const VERSION = 1
const KEY_ID_BYTES = 4
const IV_BYTES = 12
const TAG_BYTES = 16
const HEADER_BYTES = 1 + KEY_ID_BYTES + IV_BYTES + TAG_BYTES

// Random 96-bit IVs from a CSPRNG are what GCM's random-IV construction asks for; one
// getrandom() call per 256 of them instead of one per encrypted field.
const ivPool = new RandomPool(IV_BYTES * 256)

export function encrypt(keyring: Keyring, plaintext: string, associatedData: string): string {
  const key = keyring.current
  const iv = ivPool.take(IV_BYTES)
  const cipher = createCipheriv('aes-256-gcm', key.cipherKey, iv, { authTagLength: TAG_BYTES })
  cipher.setAAD(Buffer.from(associatedData))
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
  const envelope = Buffer.allocUnsafe(HEADER_BYTES + body.length)
  envelope[0] = VERSION
  key.keyId.copy(envelope, 1)
  iv.copy(envelope, 1 + KEY_ID_BYTES)
  cipher.getAuthTag().copy(envelope, 1 + KEY_ID_BYTES + IV_BYTES)
  body.copy(envelope, HEADER_BYTES)
  return envelope.toString('base64url')
}

/**
 * The plaintext of an envelope, or undefined when it is malformed, was made with a key that is no
 * longer in the keyring, belongs to other associated data, or was tampered with. Never throws.
 */
export function decrypt(keyring: Keyring, envelope: unknown, associatedData: string): string | undefined {
  if (typeof envelope !== 'string' || !/^[A-Za-z0-9_-]+$/.test(envelope)) return undefined
  const bytes = Buffer.from(envelope, 'base64url')
  // Reject non-canonical spellings too, so that every bit of the stored text is authenticated.
  if (bytes.length < HEADER_BYTES || bytes[0] !== VERSION || bytes.toString('base64url') !== envelope) {
    return undefined
  }
  const key = keyring.byKeyId(bytes.subarray(1, 1 + KEY_ID_BYTES))
  if (key === undefined) return undefined
  try {
    const decipher = createDecipheriv(
      'aes-256-gcm',
      key.cipherKey,
      bytes.subarray(1 + KEY_ID_BYTES, 1 + KEY_ID_BYTES + IV_BYTES),
      {
        authTagLength: TAG_BYTES,
      },
    )
    decipher.setAAD(Buffer.from(associatedData))
    decipher.setAuthTag(bytes.subarray(1 + KEY_ID_BYTES + IV_BYTES, HEADER_BYTES))
    return Buffer.concat([decipher.update(bytes.subarray(HEADER_BYTES)), decipher.final()]).toString('utf8')
  } catch {
    return undefined
  }
}
