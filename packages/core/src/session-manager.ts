import {
  type CookieOptions,
  type ResolvedCookieOptions,
  readCookieValues,
  resolveCookieOptions,
  serializeSetCookie,
} from './cookie/cookie-header.js'
import { signCookieValue } from './cookie/cookie-value.js'
import { VerifiedCookies } from './cookie/verified-cookies.js'
import { CORRUPT, encryptedCodec, type FieldCodec, parse, plainCodec } from './crypto/field-codec.js'
import { Keyring, type Secret } from './crypto/keyring.js'
import { newToken, storeIdOf } from './crypto/session-id.js'
import { storeUnavailable, TetherError } from './errors.js'
import { LiveSession } from './live-session.js'
import { Metrics } from './metrics.js'
import { PlaintextMemo } from './plaintext-memo.js'
import { resolveRoute } from './route.js'
import type { RegenerateOptions, Session, SessionKey, SessionValue } from './session.js'
import { MemoryStore } from './stores/memory.js'
import type { SessionStore, SessionWrite, StoredSession } from './stores/store.js'
import { boolean, byteCount, fraction, optionError, positiveNumber } from './validate.js'

/** Options shared by every Tether adapter. */
export interface TetherOptions {
  /**
   * Secret(s) of at least 32 characters. An array rotates keys: the first signs and encrypts,
   * all of them verify and decrypt; a cookie signed by an older one is re-issued under the first.
   */
  secret: Secret | readonly Secret[]
  /** Where sessions live. @default new MemoryStore() */
  store?: SessionStore
  cookie?: CookieOptions
  /**
   * Sliding idle timeout in ms: a session not used for this long is gone.
   * @default 1_800_000 (30 minutes)
   */
  idleTimeout?: number
  /**
   * Absolute timeout in ms from creation (or from the last `regenerate()`), however active.
   * @default 43_200_000 (12 hours)
   */
  absoluteTimeout?: number
  /**
   * Share of the idle window that must pass before an unchanged session is written again just to
   * record activity. With 0.1 and 30 minutes, a session read on every request costs at most one
   * touch write per 3 minutes. The guarantee: a session stays valid for at least
   * `idleTimeout × (1 − touchAfter)` after any request, and at most `idleTimeout` after the last
   * recorded activity. 0 touches on every request.
   * @default 0.1
   */
  touchAfter?: number
  /**
   * AES-256-GCM encryption of session data at rest.
   * @default true when the store keeps data outside this process (Redis), false for MemoryStore
   */
  encrypt?: boolean
  /**
   * With encryption on: bytes of decrypted session text (and the envelopes it came from) kept in
   * this process, so that a field read again unchanged is not decrypted again. A value is reused
   * only for the very envelope it was decrypted from, so this never serves stale data. 0 turns it
   * off. (A caching store's own records are memoized as long as it caches them, outside this.)
   * @default 8 MiB
   */
  decryptedCacheBytes?: number
  /**
   * The route stamped into new cookies, naming the worker that owns them.
   * @default process.env.TETHER_ROUTE (set by @tether/cluster), else 'solo'
   */
  route?: string
  /** Counters to update; pass your own to share them or to read them from outside. */
  metrics?: Metrics
  /**
   * Names the user a session belongs to, for stores with a per-user index ("log out everywhere").
   * Called on each write of a session.
   */
  owner?: (session: Session) => string | undefined
}

/** What a flush did. */
export type FlushOutcome = 'written' | 'touched' | 'unchanged' | 'gone'

/** Returned by the synchronous forms when the store or the moment needs the asynchronous one. */
export const WAIT: unique symbol = Symbol('tether.wait')

/** Marks a stored record that is corrupt or expired (to be removed). */
const FORGET: unique symbol = Symbol('tether.forget')
/** An asynchronous load of the session is under way. */
const LOADING: unique symbol = Symbol('tether.loading')

/** One write or touch of a flush. */
interface FlushStep {
  readonly now: number
  readonly expiresAt: number
  /** The session had no record yet. */
  readonly create: boolean
  /** The live session's version when the step began. */
  readonly captured: number
  /** The changes written (undefined for a touch). */
  readonly changes: Map<string, string | undefined> | undefined
  readonly write: SessionWrite | undefined
}

const DEFAULTS = {
  idleTimeout: 30 * 60_000,
  absoluteTimeout: 12 * 60 * 60_000,
  touchAfter: 0.1,
  decryptedCacheBytes: 8 * 1024 * 1024,
}

/**
 * The framework-free engine behind the adapters: it reads the cookie, loads and shares live
 * sessions, and commits them. An adapter calls `open()` when a request starts, `commit()` before
 * the response head is sent, and `release()` when the response is over.
 *
 * @example
 * const manager = new SessionManager({ secret: process.env.SESSION_SECRET! })
 * const ctx = await manager.open(req.headers.cookie)
 * ctx.session.set('visits', (ctx.session.get('visits') ?? 0) + 1)
 * const setCookie = await ctx.commit(false)
 * ctx.release()
 */
export class SessionManager {
  readonly store: SessionStore
  readonly cookie: ResolvedCookieOptions
  readonly metrics: Metrics
  readonly route: string
  readonly idleTimeout: number
  readonly absoluteTimeout: number
  /** Milliseconds after the last recorded activity before an unchanged session is touched. */
  readonly touchInterval: number
  readonly encrypted: boolean
  readonly keyring: Keyring
  readonly #codec: FieldCodec
  /** The store's synchronous forms can be used (see synchronousForms()). */
  readonly #synchronous: boolean
  readonly #ownsStore: boolean
  readonly #owner: ((session: Session) => string | undefined) | undefined
  /** Sessions held by in-flight requests (or being loaded), by store id. */
  readonly #live = new Map<string, LiveSession | Promise<LiveSession | undefined>>()
  /** Cookie values that verified recently (saves an HMAC and a SHA-256 per request). */
  readonly #verified: VerifiedCookies
  /** Decrypted field texts, so that a field read again unchanged is not decrypted again. */
  readonly #plaintexts: PlaintextMemo

  constructor(options: TetherOptions) {
    if (typeof options !== 'object' || options === null) throw optionError('options', 'an object', options)
    if (options.secret === undefined)
      throw optionError('secret', 'a string of at least 32 characters (or an array of them)', undefined)
    this.keyring = new Keyring(options.secret)
    this.#verified = new VerifiedCookies(this.keyring)
    if (options.store !== undefined && !isStore(options.store)) {
      throw optionError(
        'store',
        'a SessionStore (get, write, touch, destroy, close); wrap an express-session store with fromExpressSessionStore()',
        options.store,
      )
    }
    this.#ownsStore = options.store === undefined
    this.store = options.store ?? new MemoryStore()
    this.#synchronous = synchronousForms(this.store)
    this.cookie = resolveCookieOptions(options.cookie)
    this.idleTimeout = positiveNumber('idleTimeout', options.idleTimeout, DEFAULTS.idleTimeout)
    this.absoluteTimeout = positiveNumber(
      'absoluteTimeout',
      options.absoluteTimeout,
      DEFAULTS.absoluteTimeout,
    )
    this.touchInterval = fraction('touchAfter', options.touchAfter, DEFAULTS.touchAfter) * this.idleTimeout
    this.encrypted = boolean('encrypt', options.encrypt, !this.store.inProcess)
    this.#codec = this.encrypted ? encryptedCodec(this.keyring) : plainCodec
    this.#plaintexts = new PlaintextMemo(
      byteCount('decryptedCacheBytes', options.decryptedCacheBytes, DEFAULTS.decryptedCacheBytes),
    )
    this.route = resolveRoute(options.route)
    if (options.metrics !== undefined && !(options.metrics instanceof Metrics)) {
      throw optionError('metrics', 'a Metrics instance from @tether/core', options.metrics)
    }
    this.metrics = options.metrics ?? new Metrics()
    if (options.owner !== undefined && typeof options.owner !== 'function') {
      throw optionError('owner', 'a function (session) => user id or undefined', options.owner)
    }
    this.#owner = options.owner
    this.store.attachMetrics?.(this.metrics)
    const store = this.store
    if (store.count !== undefined) this.metrics.activeCount = () => store.count!()
  }

  /**
   * Starts a request's session from its Cookie header. Forged, malformed or unknown cookies give a
   * fresh session without a store read; a store failure rejects with ERR_TETHER_STORE_UNAVAILABLE.
   */
  async open(cookieHeader: unknown): Promise<SessionContext> {
    let reissue = false
    for (const value of readCookieValues(cookieHeader, this.cookie.name)) {
      const checked = this.#verified.check(value)
      if (checked === 'format') {
        this.metrics.increment('rejectedFormat')
        continue
      }
      if (checked === 'mac') {
        this.metrics.increment('rejectedMac')
        continue
      }
      reissue = checked.keyIndex > 0
      const live = await this.#acquire(checked.storeId, checked.token, checked.route)
      if (live !== undefined) {
        if (reissue) this.metrics.increment('reissued')
        return new SessionContext(this, live, reissue, checked.route)
      }
      // Gone here: keep the cookie's route, which tells the adapter where the request belonged.
      return new SessionContext(this, this.fresh(), false, checked.route)
    }
    return new SessionContext(this, this.fresh(), false, undefined)
  }

  /**
   * `open()` without waiting: the context, or undefined when this moment needs `open()` (the
   * session must be read from a store without synchronous reads, or another request is loading
   * it). No cookie, a rejected one, a session that a request in flight already holds, or one the
   * store has in its cache never need a store read; with MemoryStore nothing does. Throws
   * ERR_TETHER_STORE_UNAVAILABLE where `open()` would reject with it.
   */
  openNow(cookieHeader: unknown): SessionContext | undefined {
    let rejectedFormat = 0
    let rejectedMac = 0
    let context: SessionContext | undefined
    for (const value of readCookieValues(cookieHeader, this.cookie.name)) {
      const checked = this.#verified.check(value)
      if (checked === 'format') {
        rejectedFormat++
        continue
      }
      if (checked === 'mac') {
        rejectedMac++
        continue
      }
      const live = this.#acquireNow(checked.storeId, checked.token, checked.route)
      if (live === LOADING) return undefined
      const reissue = live !== undefined && checked.keyIndex > 0
      if (reissue) this.metrics.increment('reissued')
      // Gone here: keep the cookie's route, which tells the adapter where the request belonged.
      context = new SessionContext(this, live ?? this.fresh(), reissue, checked.route)
      break
    }
    if (rejectedFormat > 0) this.metrics.increment('rejectedFormat', rejectedFormat)
    if (rejectedMac > 0) this.metrics.increment('rejectedMac', rejectedMac)
    return context ?? new SessionContext(this, this.fresh(), false, undefined)
  }

  /** A new, empty session that has no token until something is stored in it. */
  fresh(): LiveSession {
    const now = Date.now()
    const live = new LiveSession({
      route: this.route,
      createdAt: now,
      touchedAt: now,
      established: false,
      stored: false,
    })
    live.refs = 1
    return live
  }

  /** Releases the store if the manager created it (the default MemoryStore). */
  async close(): Promise<void> {
    if (this.#ownsStore) await this.store.close()
  }

  async #acquire(storeId: string, token: string, route: string): Promise<LiveSession | undefined> {
    const current = this.#live.get(storeId)
    if (current !== undefined) {
      const live = current instanceof LiveSession ? current : await current
      if (live !== undefined && !live.ended) {
        live.refs++
        return live
      }
      if (live === undefined) return undefined
    }
    const loading = this.#load(storeId, token, route)
    this.#live.set(storeId, loading)
    let live: LiveSession | undefined
    try {
      live = await loading
    } finally {
      if (this.#live.get(storeId) === loading) this.#live.delete(storeId)
    }
    if (live === undefined) return undefined
    const raced = this.#live.get(storeId)
    if (raced instanceof LiveSession && !raced.ended) {
      raced.refs++
      return raced
    }
    live.refs++
    this.#live.set(storeId, live)
    return live
  }

  /** #acquire without waiting; LOADING when the session is being loaded, or must be, asynchronously. */
  #acquireNow(storeId: string, token: string, route: string): LiveSession | undefined | typeof LOADING {
    const current = this.#live.get(storeId)
    if (current !== undefined) {
      if (!(current instanceof LiveSession)) return LOADING
      if (!current.ended) {
        current.refs++
        return current
      }
    }
    let stored: StoredSession | undefined
    if (this.#synchronous) {
      try {
        stored = this.store.getNow!(storeId)
      } catch (error) {
        this.metrics.increment('storeErrors')
        throw storeUnavailable(error)
      }
    } else {
      // A cache hit needs no wait; anything else is a store read that does: open() does it.
      stored = this.store.getCached?.(storeId)
      if (stored === undefined) return LOADING
    }
    const live = this.#fromStored(storeId, token, route, stored)
    if (live === FORGET) {
      void this.#forget(storeId)
      return undefined
    }
    if (live === undefined) return undefined
    live.refs++
    this.#live.set(storeId, live)
    return live
  }

  async #load(storeId: string, token: string, route: string): Promise<LiveSession | undefined> {
    let stored: StoredSession | undefined
    try {
      stored = await this.store.get(storeId)
    } catch (error) {
      this.metrics.increment('storeErrors')
      throw storeUnavailable(error)
    }
    const live = this.#fromStored(storeId, token, route, stored)
    if (live !== FORGET) return live
    await this.#forget(storeId)
    return undefined
  }

  /** The live session for a record read from the store; FORGET when it is corrupt or expired. */
  #fromStored(
    storeId: string,
    token: string,
    route: string,
    stored: StoredSession | undefined,
  ): LiveSession | undefined | typeof FORGET {
    if (stored === undefined) {
      this.metrics.increment('loadMisses')
      return undefined
    }
    const values = this.#decode(storeId, stored)
    if (values === undefined) {
      this.metrics.increment('decryptFailures')
      this.metrics.increment('loadMisses')
      return FORGET
    }
    if (Date.now() >= this.expiresAt(stored.createdAt, stored.touchedAt)) {
      // Expired means gone, whatever the store still returned.
      this.metrics.increment('expired')
      this.metrics.increment('loadMisses')
      return FORGET
    }
    this.metrics.increment('loadHits')
    return new LiveSession({
      storeId,
      token,
      route,
      values,
      createdAt: stored.createdAt,
      touchedAt: stored.touchedAt,
      established: stored.established === true,
      stored: true,
    })
  }

  /** Decoded values, or undefined when any part of the record cannot be trusted. */
  #decode(storeId: string, stored: StoredSession): Map<string, unknown> | undefined {
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
    const values = new Map<string, unknown>()
    const codec = this.#codec
    if (codec.open === undefined) {
      for (const key of Object.keys(stored.fields)) {
        const value = codec.decode(storeId, key, stored.fields[key])
        if (value === CORRUPT) return undefined
        values.set(key, value)
      }
      return values
    }
    const texts = this.#plaintexts.textsOf(storeId, stored, codec.open)
    if (texts === undefined) return undefined
    for (const [key, json] of texts) {
      const value = parse(json)
      if (value === CORRUPT) return undefined
      values.set(key, value)
    }
    return values
  }

  /** Deletes a record found expired or corrupt; a failure here must not fail the request. */
  async #forget(storeId: string): Promise<void> {
    try {
      this.#plaintexts.forget(storeId)
      await this.store.destroy(storeId)
    } catch {
      this.metrics.increment('storeErrors')
    }
  }

  expiresAt(createdAt: number, touchedAt: number): number {
    return Math.min(touchedAt + this.idleTimeout, createdAt + this.absoluteTimeout)
  }

  /** Drops a request's hold on a live session. */
  release(live: LiveSession): void {
    live.refs--
    if (live.refs <= 0 && live.storeId !== undefined && this.#live.get(live.storeId) === live) {
      this.#live.delete(live.storeId)
    }
  }

  /** Gives a fresh session its token and makes it shareable. */
  assignToken(live: LiveSession): void {
    live.token = newToken()
    live.storeId = storeIdOf(live.token)
    this.#live.set(live.storeId, live)
  }

  /** Ends a live session for everyone holding it and removes its record. */
  async end(live: LiveSession): Promise<void> {
    live.ended = true
    live.dirty.clear()
    if (live.storeId !== undefined && this.#live.get(live.storeId) === live) this.#live.delete(live.storeId)
    if (!live.stored || live.storeId === undefined) return
    // Let a write already on its way land first, so the destroy is the last word.
    if (live.writing !== undefined) await live.writing.catch(() => undefined)
    this.#plaintexts.forget(live.storeId)
    try {
      await this.store.destroy(live.storeId)
    } catch (error) {
      this.metrics.increment('storeErrors')
      throw storeUnavailable(error)
    }
    live.stored = false
  }

  /**
   * Writes a live session's pending changes (or a due touch). Concurrent commits of one session
   * queue behind the write in flight, and a later one carries whatever changed meanwhile.
   * With `upTo` (the caller's last change, see `LiveSession.version`), the commit ends as soon as
   * that change is stored: under steady traffic on one session, changes made by later requests
   * keep arriving, and waiting for all of them would starve the earlier request.
   */
  async flush(live: LiveSession, session: Session, upTo?: number): Promise<FlushOutcome> {
    let result: FlushOutcome = 'unchanged'
    const hadChanges = upTo !== undefined && this.#pending(live, upTo)
    for (;;) {
      const next = this.#nextStep(live, upTo)
      if (next === 'done') break
      if (next === 'wait') {
        await live.writing!.catch(() => undefined)
        continue
      }
      const step = this.#prepareStep(live, session, next)
      const operation =
        step.write !== undefined
          ? this.store.write(live.storeId!, step.write)
          : this.store.touch(live.storeId!, step.now, step.expiresAt)
      live.writing = operation
      let ok: boolean
      try {
        ok = await operation
      } catch (error) {
        throw this.#stepFailed(live, step, error)
      } finally {
        live.writing = undefined
      }
      result = this.#stepDone(live, step, ok, result)
      if (result === 'gone') return 'gone'
    }
    // Another request's write carried this one's changes.
    if (hadChanges && result === 'unchanged') result = 'written'
    return live.ended ? 'gone' : result
  }

  /**
   * `flush()` without waiting: the outcome, or WAIT when something must be written (or touched)
   * and the store has no synchronous writes, or another write of this session is still in flight.
   * Throws where `flush()` would reject.
   */
  flushNow(live: LiveSession, session: Session, upTo?: number): FlushOutcome | typeof WAIT {
    const store = this.store as Required<Pick<SessionStore, 'writeNow' | 'touchNow'>>
    let result: FlushOutcome = 'unchanged'
    const hadChanges = upTo !== undefined && this.#pending(live, upTo)
    for (;;) {
      const next = this.#nextStep(live, upTo)
      if (next === 'done') break
      // Only on the first turn: a synchronous write never leaves one in flight.
      if (next === 'wait') return WAIT
      // Nothing to store costs no wait with any store; a write or touch does unless it is in-process.
      if (!this.#synchronous) return WAIT
      const step = this.#prepareStep(live, session, next, false)
      let ok: boolean
      try {
        ok =
          step.write !== undefined
            ? store.writeNow(live.storeId!, step.write)
            : store.touchNow(live.storeId!, step.now, step.expiresAt)
      } catch (error) {
        // The changes are still in the dirty map (the step read it in place): nothing to put back.
        throw this.#stepFailed(live, step, error)
      }
      if (step.changes !== undefined) live.dirty.clear()
      result = this.#stepDone(live, step, ok, result)
      if (result === 'gone') return 'gone'
    }
    if (hadChanges && result === 'unchanged') result = 'written'
    return live.ended ? 'gone' : result
  }

  /** What a live session needs next: nothing, the write in flight to end, a write or a touch. */
  #nextStep(live: LiveSession, upTo: number | undefined): 'done' | 'wait' | 'write' | 'touch' {
    if (live.ended) return 'done'
    if (!(this.#pending(live, upTo) || !live.stored || live.touchRequested || this.#touchDue(live)))
      return 'done'
    if (live.writing !== undefined) return 'wait'
    if (live.dirty.size === 0 && !live.stored) return 'done' // nothing was ever set: stay lazy
    return live.dirty.size > 0 || !live.stored ? 'write' : 'touch'
  }

  /**
   * The next step's data. `detach` hands the changes over and collects later ones in a new map
   * (a write that waits lets other requests change the session meanwhile); a synchronous write
   * reads the dirty map itself, which is cleared once the store took it.
   */
  #prepareStep(live: LiveSession, session: Session, kind: 'write' | 'touch', detach = true): FlushStep {
    const now = Date.now()
    const expiresAt = this.expiresAt(live.createdAt, now)
    const create = !live.stored
    const captured = live.version
    if (kind === 'touch') {
      live.touchRequested = false
      return { now, expiresAt, create, captured, changes: undefined, write: undefined }
    }
    const changes = live.dirty
    if (detach) live.dirty = new Map()
    const write = this.#writeOf(live, changes, now, expiresAt, session)
    return { now, expiresAt, create, captured, changes, write }
  }

  /** A failed step: its changes go back (unless newer ones replaced them) for the next commit. */
  #stepFailed(live: LiveSession, step: FlushStep, error: unknown): Error {
    if (step.changes !== undefined) {
      for (const [k, v] of step.changes) if (!live.dirty.has(k)) live.dirty.set(k, v)
    }
    this.metrics.increment('storeErrors')
    return storeUnavailable(error)
  }

  #stepDone(live: LiveSession, step: FlushStep, ok: boolean, result: FlushOutcome): FlushOutcome {
    if (!ok) {
      // Destroyed elsewhere (logout in another request or process): do not bring it back.
      live.ended = true
      return 'gone'
    }
    live.touchedAt = step.now
    if (step.changes === undefined) {
      this.metrics.increment('touched')
      return result === 'unchanged' ? 'touched' : result
    }
    if (step.create) this.metrics.increment('created')
    live.stored = true
    if (step.captured > live.savedVersion) live.savedVersion = step.captured
    return 'written'
  }

  /** Whether changes are waiting to be stored: all of them, or only those up to `upTo`. */
  #pending(live: LiveSession, upTo: number | undefined): boolean {
    // Nothing dirty and nothing in flight: every change made so far is in the store.
    if (live.dirty.size === 0 && live.writing === undefined) live.savedVersion = live.version
    return upTo === undefined ? live.dirty.size > 0 : live.savedVersion < upTo
  }

  #touchDue(live: LiveSession): boolean {
    return live.stored && Date.now() - live.touchedAt >= this.touchInterval
  }

  #writeOf(
    live: LiveSession,
    changes: Map<string, string | undefined>,
    now: number,
    expiresAt: number,
    session: Session,
  ): SessionWrite {
    const set: Record<string, string> = {}
    const unset: string[] = []
    for (const [key, json] of changes) {
      if (json === undefined) unset.push(key)
      else set[key] = this.#codec.encode(live.storeId!, key, json)
    }
    const write: SessionWrite = {
      set,
      unset,
      createdAt: live.createdAt,
      touchedAt: now,
      expiresAt,
      established: live.established,
      create: !live.stored,
    }
    const owner = this.#owner?.(session)
    if (owner !== undefined) write.owner = owner
    return write
  }

  /** The Set-Cookie header for a cookie value (or its removal when undefined). */
  setCookieHeader(value: string | undefined, secureRequest: boolean): string {
    return serializeSetCookie(this.cookie, value, secureRequest)
  }

  /** The cookie value for a live session under the newest secret. */
  cookieValue(live: LiveSession): string {
    return signCookieValue(live.token!, live.route, this.keyring)
  }
}

/**
 * Whether the core may use a store's synchronous forms: it offers all three, and each comes from
 * the same class as its asynchronous twin. A subclass that overrides `write` to add behaviour
 * (counting, failing, delaying) but inherits `writeNow` keeps the asynchronous path, so nothing
 * it added is skipped.
 */
function synchronousForms(store: SessionStore): boolean {
  const pairs = [
    ['get', 'getNow'],
    ['write', 'writeNow'],
    ['touch', 'touchNow'],
  ] as const
  return pairs.every(
    ([later, now]) => typeof store[now] === 'function' && definedBy(store, later) === definedBy(store, now),
  )
}

/** The object of `value`'s prototype chain that holds `name` as an own property. */
function definedBy(value: object, name: string): object | undefined {
  for (let o: object | null = value; o !== null; o = Object.getPrototypeOf(o)) {
    if (Object.hasOwn(o, name)) return o
  }
  return undefined
}

function isStore(value: unknown): value is SessionStore {
  const s = value as Partial<Record<keyof SessionStore, unknown>>
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof s.get === 'function' &&
    typeof s.write === 'function' &&
    typeof s.touch === 'function' &&
    typeof s.destroy === 'function' &&
    typeof s.close === 'function'
  )
}

/**
 * Whether a request came over TLS: a boolean, or something asked only when a cookie is sent (a
 * function, or an object whose `secure` says it, such as Express's `req`), since working it out
 * through trusted proxies is not free.
 */
export type SecureRequest = boolean | (() => boolean) | { readonly secure: boolean }

/** Whether the request came over TLS; a function or object is asked only when a cookie is sent. */
function isSecure(secureRequest: SecureRequest): boolean {
  if (typeof secureRequest === 'boolean') return secureRequest
  return typeof secureRequest === 'function' ? secureRequest() : secureRequest.secure
}

/** How SessionView reaches a SessionContext's private state (set once, in its static block). */
let contextAccess: {
  live(ctx: SessionContext): LiveSession
  set(ctx: SessionContext, key: string, value: unknown): void
  regenerate(ctx: SessionContext, options: RegenerateOptions | undefined): Promise<void>
  destroy(ctx: SessionContext): Promise<void>
}

/**
 * One request's view of its session: `session` for the app, `commit` and `release` for the
 * adapter.
 */
export class SessionContext {
  readonly session: Session
  readonly #manager: SessionManager
  #live: LiveSession
  /** This request must send a cookie: new session, regenerated, or re-signed by a newer secret. */
  #issue: boolean
  /** This request ended a session that the browser holds a cookie for. */
  #cleared = false
  #released = false
  /** The route of the verified cookie the request carried, even when its session was not found. */
  readonly #cookieRoute: string | undefined
  #misrouted = false
  /** The live session's version after this request's last change (0: none). */
  #changedAt = 0
  #committedHeader: string | undefined
  #committed = false

  constructor(manager: SessionManager, live: LiveSession, reissue: boolean, cookieRoute: string | undefined) {
    this.#manager = manager
    this.#live = live
    this.#issue = reissue
    this.#cookieRoute = cookieRoute
    this.session = new SessionView(this)
  }

  /**
   * The route of the verified cookie the request carried (the worker that owns its session), even
   * when that session was not found here; else the route of this request's new session.
   */
  get route(): string {
    return this.#cookieRoute ?? this.#live.route
  }

  /**
   * Tells the context that this request reached a worker other than its session's owner (a pooled
   * keep-alive connection; the adapter answers it with `Connection: close`). A session this
   * request would create here is then neither stored nor sent: its cookie would replace the
   * client's cookie for the real session, which lives with the owner.
   */
  markMisrouted(): void {
    this.#misrouted = true
  }

  /** True once a commit has run; later changes can still be saved but no cookie can be sent. */
  get committed(): boolean {
    return this.#committed
  }

  /**
   * Saves the session and returns the Set-Cookie header to send, if any. Call it before the
   * response head goes out; it may be called again (later changes are saved, the header is the
   * first commit's). Rejects with ERR_TETHER_STORE_UNAVAILABLE when the store fails.
   * `secureRequest` (see {@link SecureRequest}) is asked only when a cookie is actually sent.
   */
  async commit(secureRequest: SecureRequest): Promise<string | undefined> {
    const live = this.#live
    if (this.#misrouted && !live.stored) return this.#finish(undefined)
    const outcome = live.ended ? 'gone' : await this.#manager.flush(live, this.session, this.#changedAt)
    return this.#finish(this.#headerFor(outcome, secureRequest))
  }

  /**
   * `commit()` without waiting: the Set-Cookie header (or undefined), or WAIT when `commit()` is
   * needed (something to store in a store without synchronous writes). Throws
   * ERR_TETHER_STORE_UNAVAILABLE where `commit()` would reject with it.
   */
  commitNow(secureRequest: SecureRequest): string | undefined | typeof WAIT {
    const live = this.#live
    if (this.#misrouted && !live.stored) return this.#finish(undefined)
    const outcome = live.ended ? 'gone' : this.#manager.flushNow(live, this.session, this.#changedAt)
    if (outcome === WAIT) return WAIT
    return this.#finish(this.#headerFor(outcome, secureRequest))
  }

  #headerFor(outcome: FlushOutcome, secureRequest: SecureRequest): string | undefined {
    const manager = this.#manager
    const live = this.#live
    if (outcome === 'gone' || !live.stored) {
      // Only the request that destroyed the session clears the cookie: a slow request that merely
      // held an ended session must not wipe the cookie a concurrent login has just issued.
      return this.#cleared ? manager.setCookieHeader(undefined, isSecure(secureRequest)) : undefined
    }
    if (this.#issue || (manager.cookie.maxAge !== undefined && outcome !== 'unchanged')) {
      return manager.setCookieHeader(manager.cookieValue(live), isSecure(secureRequest))
    }
    return undefined
  }

  /** The first commit's header is the one sent; later commits only save later changes. */
  #finish(header: string | undefined): string | undefined {
    if (this.#committed) return this.#committedHeader
    this.#committed = true
    this.#committedHeader = header
    return header
  }

  /** Ends this request's hold on the session; call once when the response is finished or aborted. */
  release(): void {
    if (this.#released) return
    this.#released = true
    this.#manager.release(this.#live)
  }

  static {
    // Lets SessionView reach this class's private state without a closure per request.
    contextAccess = {
      live: (ctx) => ctx.#live,
      set: (ctx, key, value) => ctx.#set(key, value),
      regenerate: (ctx, options) => ctx.#regenerate(options),
      destroy: (ctx) => ctx.#destroy(),
    }
  }

  #set<K extends SessionKey>(key: K, value: SessionValue<K> | undefined): void {
    const live = this.#live
    // A session ended by another request (logout) takes no more writes from slow requests.
    if (live.ended) return
    if (typeof key !== 'string') throw new TypeError('session keys must be strings')
    if (value === undefined) {
      if (!live.values.has(key)) return
      live.values.delete(key)
      live.dirty.set(key, undefined)
      this.#changedAt = ++live.version
      return
    }
    let json: string | undefined
    try {
      json = JSON.stringify(value)
    } catch (cause) {
      throw new TetherError(
        'ERR_TETHER_VALUE_NOT_SERIALIZABLE',
        `session value for "${key}" cannot be stored as JSON`,
        { cause },
      )
    }
    if (json === undefined) {
      throw new TetherError(
        'ERR_TETHER_VALUE_NOT_SERIALIZABLE',
        `session value for "${key}" cannot be stored as JSON`,
      )
    }
    if (live.token === undefined) {
      this.#manager.assignToken(live)
      this.#issue = true
    }
    live.values.set(key, value)
    live.dirty.set(key, json)
    this.#changedAt = ++live.version
  }

  async #regenerate(options: RegenerateOptions = {}): Promise<void> {
    const keep = options.keep ?? true
    const old = this.#live
    const manager = this.#manager
    const next = manager.fresh()
    next.established = true
    for (const [key, value] of old.ended ? [] : old.values) {
      if (keep === true || (Array.isArray(keep) && keep.includes(key))) next.values.set(key, value)
    }
    // The old id dies now, for this request and any other still holding it.
    await manager.end(old)
    manager.release(old)
    manager.metrics.increment('regenerated')
    this.#live = next
    this.#changedAt = 0
    manager.assignToken(next)
    this.#issue = true
    for (const [key, value] of next.values) next.dirty.set(key, JSON.stringify(value))
    // An established session with no data still has to be stored so its cookie means something.
    next.stored = false
  }

  async #destroy(): Promise<void> {
    const old = this.#live
    const manager = this.#manager
    const hadCookie = old.token !== undefined
    await manager.end(old)
    manager.release(old)
    manager.metrics.increment('destroyed')
    this.#live = manager.fresh()
    this.#changedAt = 0
    this.#issue = false
    if (hadCookie) this.#cleared = true
  }
}

/** `req.session`: the app's view of a request's session, one small object per request. */
class SessionView implements Session {
  readonly #ctx: SessionContext

  constructor(ctx: SessionContext) {
    this.#ctx = ctx
  }

  get<K extends SessionKey>(key: K): SessionValue<K> | undefined {
    const live = contextAccess.live(this.#ctx)
    return (live.ended ? undefined : live.values.get(key)) as SessionValue<K> | undefined
  }

  set<K extends SessionKey>(key: K, value: SessionValue<K>): void {
    contextAccess.set(this.#ctx, key, value)
  }

  delete(key: SessionKey): boolean {
    const had = contextAccess.live(this.#ctx).values.has(key)
    if (had) contextAccess.set(this.#ctx, key, undefined)
    return had
  }

  has(key: SessionKey): boolean {
    const live = contextAccess.live(this.#ctx)
    return !live.ended && live.values.has(key)
  }

  keys(): string[] {
    const live = contextAccess.live(this.#ctx)
    return live.ended ? [] : [...live.values.keys()]
  }

  get isNew(): boolean {
    return !contextAccess.live(this.#ctx).stored
  }

  regenerate(options?: RegenerateOptions): Promise<void> {
    return contextAccess.regenerate(this.#ctx, options)
  }

  destroy(): Promise<void> {
    return contextAccess.destroy(this.#ctx)
  }

  touch(): void {
    contextAccess.live(this.#ctx).touchRequested = true
  }
}
