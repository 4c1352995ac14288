import { hkdfSync, timingSafeEqual } from 'node:crypto'
import { optionError } from '../validate.js'
import { HmacSha256 } from './hmac.js'

/** A secret as users pass it: a string or bytes of at least 32 characters/bytes. */
export type Secret = string | Uint8Array

/** The smallest secret accepted: 32 bytes, i.e. 256 bits if the secret is random. */
export const MIN_SECRET_LENGTH = 32

/** Keys derived from one secret. The cookie and the cipher never share a key. */
export interface DerivedKeys {
  /** HMAC-SHA256 key that signs cookies. */
  readonly macKey: Buffer
  /** AES-256-GCM key for encryption at rest. */
  readonly cipherKey: Buffer
  /** 4 bytes naming the cipher key in envelopes, so a rotated key can still be found. */
  readonly keyId: Buffer
  /** HMAC-SHA256 under `macKey`. */
  readonly mac: HmacSha256
  /** HMAC-SHA256 under a key of its own, sealing what a stored record must not change. */
  readonly recordMac: HmacSha256
}

const HKDF_SALT = Buffer.from('tether/v1')

function derive(secret: Secret): DerivedKeys {
  const ikm = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret)
  const expand = (info: string, length: number) =>
    Buffer.from(hkdfSync('sha256', ikm, HKDF_SALT, Buffer.from(info), length))
  const macKey = expand('tether cookie mac', 32)
  return {
    macKey,
    mac: new HmacSha256(macKey),
    recordMac: new HmacSha256(expand('tether record mac', 32)),
    cipherKey: expand('tether cipher aes-256-gcm', 32),
    keyId: expand('tether cipher key id', 4),
  }
}

/**
 * The app's secrets, newest first: the first signs and encrypts, every one verifies and decrypts.
 * Rotating means prepending a new secret and, once old cookies have expired, dropping the last.
 *
 * @example
 * const keyring = new Keyring([process.env.SESSION_SECRET_NEW!, process.env.SESSION_SECRET_OLD!])
 */
export class Keyring {
  /** Derived keys in the order given: index 0 is current. */
  readonly keys: readonly DerivedKeys[]

  constructor(secret: Secret | readonly Secret[]) {
    const secrets: readonly unknown[] = Array.isArray(secret) ? secret : [secret]
    if (secrets.length === 0)
      throw optionError('secret', 'a string of at least 32 characters or a non-empty array of them', secret)
    this.keys = secrets.map((s, i) => {
      const name = Array.isArray(secret) ? `secret[${i}]` : 'secret'
      if (typeof s === 'string') {
        if (s.length < MIN_SECRET_LENGTH)
          throw optionError(name, `at least ${MIN_SECRET_LENGTH} characters long`, `${s.length} characters`)
      } else if (s instanceof Uint8Array) {
        if (s.byteLength < MIN_SECRET_LENGTH)
          throw optionError(name, `at least ${MIN_SECRET_LENGTH} bytes long`, `${s.byteLength} bytes`)
      } else {
        throw optionError(name, `a string of at least ${MIN_SECRET_LENGTH} characters or a Buffer`, s)
      }
      return derive(s)
    })
  }

  get current(): DerivedKeys {
    return this.keys[0]!
  }

  /** HMAC-SHA256 of `data` under the current MAC key, truncated to `bytes`, as base64url. */
  sign(data: string, bytes: number): string {
    return this.current.mac.mac(data, bytes)
  }

  /**
   * Index of the key whose MAC matches `mac` (base64url, as `sign` returns it), or -1.
   * Strings are compared, not decoded bytes, so a non-canonical base64url spelling of a valid MAC
   * does not verify. Every key is tried in constant time.
   */
  verify(data: string, mac: string, bytes: number): number {
    const given = Buffer.from(mac)
    let found = -1
    for (let i = 0; i < this.keys.length; i++) {
      const expected = Buffer.from(this.keys[i]!.mac.mac(data, bytes))
      if (expected.length === given.length && timingSafeEqual(expected, given) && found === -1) found = i
    }
    return found
  }

  /** The derived keys whose key id matches, or undefined. */
  byKeyId(keyId: Buffer): DerivedKeys | undefined {
    return this.keys.find((k) => k.keyId.equals(keyId))
  }
}
