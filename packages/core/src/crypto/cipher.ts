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

/**
 * Scratch for the associated data and the header of the envelope being made: encrypt() runs start
 * to end without yielding, so no two calls share them at once. Saves two allocations per value.
 */
let associatedScratch = Buffer.alloc(256)
const headerScratch = Buffer.alloc(HEADER_BYTES)
// The header is encoded apart from the ciphertext (see encrypt): that needs whole base64 groups.
if (HEADER_BYTES % 3 !== 0) throw new Error('the envelope header must be a multiple of 3 bytes')

export function encrypt(keyring: Keyring, plaintext: string, associatedData: string): string {
  const key = keyring.current
  const iv = ivPool.take(IV_BYTES)
  const cipher = createCipheriv('aes-256-gcm', key.cipherKey, iv, { authTagLength: TAG_BYTES })
  cipher.setAAD(associatedBytes(associatedData))
  const body = cipher.update(plaintext, 'utf8')
  // GCM is a stream mode: final() only computes the tag and returns no bytes (checked all the same).
  const rest = cipher.final()
  headerScratch[0] = VERSION
  key.keyId.copy(headerScratch, 1)
  iv.copy(headerScratch, 1 + KEY_ID_BYTES)
  cipher.getAuthTag().copy(headerScratch, 1 + KEY_ID_BYTES + IV_BYTES)
  // 33 header bytes are 44 base64 characters with no padding: the header and the body encoded
  // apart join into exactly the encoding of the whole envelope, without copying the body.
  const tail = rest.length === 0 ? body : Buffer.concat([body, rest])
  return headerScratch.toString('base64url') + tail.toString('base64url')
}

/** The associated data's UTF-8 bytes, in the reused scratch buffer (grown up to 4 KiB, no further). */
function associatedBytes(associatedData: string): Buffer {
  if (associatedData.length * 3 > associatedScratch.length) {
    const needed = Buffer.byteLength(associatedData)
    if (needed > 4096) return Buffer.from(associatedData)
    if (needed > associatedScratch.length) associatedScratch = Buffer.alloc(needed)
  }
  return associatedScratch.subarray(0, associatedScratch.write(associatedData, 'utf8'))
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
