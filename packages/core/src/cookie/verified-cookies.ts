import type { Keyring } from '../crypto/keyring.js'
import { storeIdOf } from '../crypto/session-id.js'
import { type CookieRejection, checkCookieValue, type VerifiedCookie } from './cookie-value.js'

/** A cookie value that verified, with the store id of its token. */
export interface KnownCookie extends VerifiedCookie {
  /** `storeIdOf(token)`. */
  readonly storeId: string
}

/**
 * Cookie values that verified recently, so a worker does not run the HMAC and the SHA-256 of the
 * same cookie on every request: under affinity, one worker sees the same cookies again and again,
 * and these two hashes were the largest part of the per-request cost of a session. Only values
 * that verified are kept, so forged cookies cannot fill it; a hit is the exact string verified
 * before, so the answer is the same. The oldest entry leaves first when it is full.
 */
export class VerifiedCookies {
  readonly #entries = new Map<string, KnownCookie>()
  readonly #keyring: Keyring
  readonly capacity: number

  /** @param capacity most values remembered (about 0.3 KiB each) */
  constructor(keyring: Keyring, capacity = 4096) {
    this.#keyring = keyring
    this.capacity = capacity
  }

  /** Like `checkCookieValue`, with the store id, from memory when this value verified before. */
  check(value: string): KnownCookie | CookieRejection {
    const known = this.#entries.get(value)
    if (known !== undefined) return known
    const checked = checkCookieValue(value, this.#keyring)
    if (typeof checked === 'string') return checked
    const entry: KnownCookie = { ...checked, storeId: storeIdOf(checked.token) }
    if (this.#entries.size >= this.capacity) this.#entries.delete(this.#entries.keys().next().value!)
    this.#entries.set(value, entry)
    return entry
  }

  get size(): number {
    return this.#entries.size
  }
}
