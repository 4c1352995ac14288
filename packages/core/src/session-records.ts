import { CORRUPT, type FieldCodec, parse } from './crypto/field-codec.js'
import { openSeal, type RecordSeal } from './crypto/record-seal.js'
import { storeUnavailable } from './errors.js'
import { LiveSession } from './live-session.js'
import type { Metrics } from './metrics.js'
import { expiryOf, type ResolvedTetherOptions } from './options.js'
import type { PlaintextMemo } from './plaintext-memo.js'
import type { SessionStore, StoredSession } from './stores/store.js'
import { LOADING } from './wait.js'

/**
 * A record's values as JSON text (a map of its own, or the memo's, which is only read), and (for
 * plain text) the values parsed to check it.
 */
type Decoded =
  | { values: Map<string, string>; borrowed: undefined; parsed: Map<string, unknown> }
  | { values: undefined; borrowed: ReadonlyMap<string, string>; parsed: undefined }

/** Marks a stored record that is corrupt or expired (to be removed). */
const FORGET: unique symbol = Symbol('tether.forget')

/**
 * The store side of loading a session: reads a record, decodes (and decrypts) it into a live
 * session, and removes records that are expired, corrupt or ended. Knows nothing of who holds a
 * session; the live table does.
 */
export class SessionRecords {
  readonly #store: SessionStore
  readonly #synchronous: boolean
  readonly #metrics: Metrics
  readonly #options: ResolvedTetherOptions
  readonly #codec: FieldCodec
  /** Decrypted field texts, so that a field read again unchanged is not decrypted again. */
  readonly #plaintexts: PlaintextMemo
  /** Frozen records (a cache's copies) whose seal verified, with the store id and route it verified for. */
  readonly #checkedSeals = new WeakMap<
    StoredSession,
    { readonly storeId: string; readonly route: string; readonly seal: RecordSeal }
  >()

  constructor(options: ResolvedTetherOptions, codec: FieldCodec, plaintexts: PlaintextMemo) {
    this.#store = options.store
    this.#synchronous = options.synchronous
    this.#metrics = options.metrics
    this.#options = options
    this.#codec = codec
    this.#plaintexts = plaintexts
  }

  /**
   * The live session stored under `storeId`, or undefined when there is none (an expired or corrupt
   * record is removed first). Rejects with ERR_TETHER_STORE_UNAVAILABLE when the store fails.
   */
  async load(storeId: string, token: string, route: string): Promise<LiveSession | undefined> {
    let stored: StoredSession | undefined
    try {
      stored = await this.#store.get(storeId)
    } catch (error) {
      this.#metrics.increment('storeErrors')
      throw storeUnavailable(error)
    }
    const live = this.#fromStored(storeId, token, route, stored)
    if (live !== FORGET) return live
    await this.#forget(storeId)
    return undefined
  }

  /**
   * `load()` without waiting (see wait.ts): LOADING when the record must be read asynchronously
   * (neither a synchronous store nor a cache hit). Throws where `load()` would reject.
   */
  loadNow(storeId: string, token: string, route: string): LiveSession | undefined | typeof LOADING {
    let stored: StoredSession | undefined
    if (this.#synchronous) {
      try {
        stored = this.#store.getNow!(storeId)
      } catch (error) {
        this.#metrics.increment('storeErrors')
        throw storeUnavailable(error)
      }
    } else {
      // A cache hit needs no wait; anything else is a store read that does: open() does it.
      stored = this.#store.getCached?.(storeId)
      if (stored === undefined) return LOADING
    }
    const live = this.#fromStored(storeId, token, route, stored)
    if (live === FORGET) {
      void this.#forget(storeId)
      return undefined
    }
    // The store's own record (getNow): remembered so that the session may outlive this request.
    const revision = stored?.revision
    if (live !== undefined && this.#synchronous && revision !== undefined) {
      live.record = stored
      live.revision = revision
    }
    return live
  }

  /**
   * Whether a released live session still matches its in-process record, so that a request may
   * take it instead of loading the record again: the store holds the same record at the same
   * revision (nothing changed it since: no other writer, replica, eviction or expiry), and the
   * request's cookie names the same route. Counted as the load it replaces.
   */
  stillCurrent(live: LiveSession, route: string): boolean {
    const record = live.record
    if (record === undefined || live.route !== route) return false
    let stored: StoredSession | undefined
    try {
      stored = this.#store.getNow!(live.storeId!)
    } catch {
      return false // the load that follows reports it
    }
    if (stored !== record || stored.revision !== live.revision) return false
    if (Date.now() >= expiryOf(this.#options, live.createdAt, live.touchedAt)) return false
    this.#metrics.increment('loadHits')
    return true
  }

  /** Removes an ended session's record; rejects with ERR_TETHER_STORE_UNAVAILABLE when that fails. */
  async destroy(storeId: string): Promise<void> {
    this.#plaintexts.forget(storeId)
    try {
      await this.#store.destroy(storeId)
    } catch (error) {
      this.#metrics.increment('storeErrors')
      throw storeUnavailable(error)
    }
  }

  /** The live session for a record read from the store; FORGET when it is corrupt or expired. */
  #fromStored(
    storeId: string,
    token: string,
    route: string,
    stored: StoredSession | undefined,
  ): LiveSession | undefined | typeof FORGET {
    const metrics = this.#metrics
    if (stored === undefined) {
      metrics.increment('loadMisses')
      return undefined
    }
    const seal = this.#sealOf(storeId, route, stored)
    const decoded = seal !== FORGET ? this.#decode(storeId, stored) : undefined
    if (decoded === undefined) {
      metrics.increment('decryptFailures')
      metrics.increment('loadMisses')
      return FORGET
    }
    if (Date.now() >= expiryOf(this.#options, stored.createdAt, stored.touchedAt)) {
      // Expired means gone, whatever the store still returned.
      metrics.increment('expired')
      metrics.increment('loadMisses')
      return FORGET
    }
    metrics.increment('loadHits')
    return new LiveSession({
      storeId,
      token,
      route,
      values: decoded.values,
      borrowedValues: decoded.borrowed,
      unclaimed: decoded.parsed,
      createdAt: stored.createdAt,
      touchedAt: stored.touchedAt,
      established: stored.established === true,
      stored: true,
      seal: seal as RecordSeal | undefined,
    })
  }

  /**
   * With encryption on, the record's seal, checked against its store id, the cookie's route, its
   * metadata and its values (see record-seal.ts); FORGET when it does not verify. Checked once per
   * frozen record (a cache's copy), else per load. Undefined with encryption off.
   */
  #sealOf(storeId: string, route: string, stored: StoredSession): RecordSeal | undefined | typeof FORGET {
    if (!this.#codec.authenticated) return undefined
    if (
      typeof stored !== 'object' ||
      stored === null ||
      typeof stored.fields !== 'object' ||
      stored.fields === null
    )
      return FORGET
    const frozen = Object.isFrozen(stored)
    if (frozen) {
      // A cache hit: compared field by field, no string built per request.
      const known = this.#checkedSeals.get(stored)
      if (known !== undefined && known.storeId === storeId && known.route === route) return known.seal
    }
    const meta = { storeId, route, createdAt: stored.createdAt, established: stored.established === true }
    const seal = openSeal(this.#options.keyring, stored.seal, meta, stored.fields)
    if (seal === undefined) return FORGET
    if (frozen) this.#checkedSeals.set(stored, { storeId, route, seal })
    return seal
  }

  /**
   * The JSON text of every value, or undefined when any part of the record cannot be trusted.
   * Values stay text until `get` parses them, so no two readers ever share a mutable value.
   */
  #decode(storeId: string, stored: StoredSession): Decoded | undefined {
    if (
      typeof stored !== 'object' ||
      stored === null ||
      typeof stored.fields !== 'object' ||
      stored.fields === null ||
      !Number.isFinite(stored.createdAt) ||
      !Number.isFinite(stored.touchedAt)
    ) {
      return undefined
    }
    const codec = this.#codec
    if (codec.authenticated) {
      const texts = this.#plaintexts.textsOf(storeId, stored, codec.open)
      return texts === undefined ? undefined : { values: undefined, borrowed: texts, parsed: undefined }
    }
    // Nothing vouches for plain text: it must at least be JSON, or get() would throw later. The
    // values parsed to check it are kept for the first get() of each key, so it costs no more.
    const values = new Map<string, string>()
    const parsed = new Map<string, unknown>()
    for (const key of Object.keys(stored.fields)) {
      const json = codec.open(storeId, key, stored.fields[key])
      if (json === undefined) return undefined
      const value = parse(json)
      if (value === CORRUPT) return undefined
      values.set(key, json)
      parsed.set(key, value)
    }
    return { values, borrowed: undefined, parsed }
  }

  /** Deletes a record found expired or corrupt; a failure here must not fail the request. */
  async #forget(storeId: string): Promise<void> {
    try {
      this.#plaintexts.forget(storeId)
      await this.#store.destroy(storeId)
    } catch {
      this.#metrics.increment('storeErrors')
    }
  }
}
