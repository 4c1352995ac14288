import * as crypto from 'node:crypto'

// HMAC-SHA256 (RFC 2104) over Node's one-shot crypto.hash() (Node >= 20.12). createHmac() builds
// a KeyObject and an Hmac object per call, about 3 µs here; the same MAC from two one-shot digests
// over pre-padded keys costs under 1 µs, and a new session signs its cookie once.
type OneShotHash = (algorithm: string, data: Uint8Array, encoding: 'latin1') => string
const oneShotHash = (crypto as unknown as { hash?: OneShotHash }).hash

const BLOCK_BYTES = 64
const DIGEST_BYTES = 32

/** One key's HMAC-SHA256, truncated and base64url-encoded, as cookies carry it. */
export class HmacSha256 {
  readonly #key: Buffer
  /** (key XOR ipad) followed by room for the message: the inner digest's input. */
  #inner: Buffer
  /** (key XOR opad) followed by the inner digest: the outer digest's input. */
  readonly #outer = Buffer.alloc(BLOCK_BYTES + DIGEST_BYTES)
  readonly #digest = Buffer.alloc(DIGEST_BYTES)

  constructor(key: Buffer) {
    // Longer keys would have to be hashed first (RFC 2104 §2); the keyring's keys are 32 bytes.
    if (key.length > BLOCK_BYTES)
      throw new RangeError(`HMAC keys longer than ${BLOCK_BYTES} bytes are not supported`)
    this.#key = key
    const block = Buffer.alloc(BLOCK_BYTES)
    key.copy(block)
    this.#inner = Buffer.alloc(BLOCK_BYTES + 256)
    for (let i = 0; i < BLOCK_BYTES; i++) {
      this.#inner[i] = block[i]! ^ 0x36
      this.#outer[i] = block[i]! ^ 0x5c
    }
  }

  /** The MAC of `data` (UTF-8), its first `bytes` bytes as base64url. */
  mac(data: string, bytes: number): string {
    if (oneShotHash === undefined) {
      return crypto
        .createHmac('sha256', this.#key)
        .update(data)
        .digest()
        .subarray(0, bytes)
        .toString('base64url')
    }
    // The buffers are reused: this runs start to end without yielding, so no call can interleave.
    const room = this.#inner.length - BLOCK_BYTES
    // UTF-8 takes at most 3 bytes per UTF-16 unit: only long messages need counting.
    if (data.length * 3 > room) {
      const needed = Buffer.byteLength(data)
      if (needed > room) this.#grow(needed)
    }
    const length = this.#inner.write(data, BLOCK_BYTES, 'utf8')
    const inner = oneShotHash('sha256', this.#inner.subarray(0, BLOCK_BYTES + length), 'latin1')
    this.#outer.write(inner, BLOCK_BYTES, 'latin1')
    this.#digest.write(oneShotHash('sha256', this.#outer, 'latin1'), 0, 'latin1')
    return this.#digest.toString('base64url', 0, bytes)
  }

  #grow(needed: number): void {
    const inner = Buffer.alloc(BLOCK_BYTES + needed)
    this.#inner.copy(inner, 0, 0, BLOCK_BYTES)
    this.#inner = inner
  }
}
