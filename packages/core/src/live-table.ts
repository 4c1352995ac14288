import { newToken, storeIdOf } from './crypto/session-id.js'
import { LiveSession } from './live-session.js'
import type { SessionRecords } from './session-records.js'
import { LOADING } from './wait.js'

/**
 * Most released sessions kept for their next request (see LiveTable#release): a few hundred
 * bytes each, for the sessions active right now; past it, the earliest kept half is dropped.
 */
const MAX_KEPT = 1000

/**
 * The sessions that in-flight requests hold (or are loading) in this process, by store id: the
 * table that makes concurrent requests of one session share one live session, loaded once. With
 * an in-process store it also keeps recently released sessions that still match their records.
 * It owns the hold count of every live session in it.
 */
export class LiveTable {
  readonly #records: SessionRecords
  /** The route stamped into new sessions. */
  readonly #route: string
  /** Sessions held by requests (or being loaded), and released ones kept (refs 0). */
  readonly #live = new Map<string, LiveSession | Promise<LiveSession | undefined>>()
  /** How many of `#live` are released sessions kept for their next request. */
  #kept = 0

  constructor(records: SessionRecords, route: string) {
    this.#records = records
    this.#route = route
  }

  /**
   * Takes a hold on the session under `storeId`: the one a request in flight holds, else the one
   * that is being loaded, else a load of its own. Undefined when there is no such session.
   */
  async acquire(storeId: string, token: string, route: string): Promise<LiveSession | undefined> {
    const current = this.#live.get(storeId)
    if (current !== undefined) {
      const live = current instanceof LiveSession ? current : await current
      // After the wait, a session released meanwhile may have left the table: then it is loaded.
      const held = live !== undefined && (live.refs > 0 || this.#live.get(storeId) === live)
      if (held && !live.ended && this.#takeable(live, route)) {
        live.refs++
        return live
      }
      if (live === undefined) return undefined
    }
    const loading = this.#records.load(storeId, token, route)
    this.#live.set(storeId, loading)
    let live: LiveSession | undefined
    try {
      live = await loading
    } finally {
      if (this.#live.get(storeId) === loading) this.#live.delete(storeId)
    }
    if (live === undefined) return undefined
    const raced = this.#live.get(storeId)
    if (raced instanceof LiveSession && !raced.ended && this.#takeable(raced, route)) {
      raced.refs++
      return raced
    }
    live.refs++
    this.#live.set(storeId, live)
    return live
  }

  /** `acquire()` without waiting (see wait.ts); LOADING when the session is being loaded, or must be. */
  acquireNow(storeId: string, token: string, route: string): LiveSession | undefined | typeof LOADING {
    const current = this.#live.get(storeId)
    if (current !== undefined) {
      if (!(current instanceof LiveSession)) return LOADING
      if (!current.ended && this.#takeable(current, route)) {
        current.refs++
        return current
      }
    }
    const live = this.#records.loadNow(storeId, token, route)
    if (live === LOADING || live === undefined) return live
    live.refs++
    this.#live.set(storeId, live)
    return live
  }

  /** A new, empty session, held once, that has no token until something is stored in it. */
  fresh(): LiveSession {
    const now = Date.now()
    const live = new LiveSession({
      route: this.#route,
      createdAt: now,
      touchedAt: now,
      established: false,
      stored: false,
    })
    live.refs = 1
    return live
  }

  /** Gives a fresh session its token and makes it shareable. */
  assignToken(live: LiveSession): void {
    live.token = newToken()
    live.storeId = storeIdOf(live.token)
    this.#live.set(live.storeId, live)
  }

  /**
   * Whether a request may take `live`, a session in the table: one held by a request in flight is
   * shared; a released one kept here only while it still matches its record (else it is dropped,
   * and the record loaded).
   */
  #takeable(live: LiveSession, route: string): boolean {
    if (live.refs > 0) return true
    this.#kept--
    if (this.#records.stillCurrent(live, route)) return true
    this.#live.delete(live.storeId!)
    return false
  }

  /**
   * Drops a request's hold on a live session. The last hold on a session of an in-process store
   * that matches its record keeps it here for the session's next request, which then needs no
   * load: under affinity that request comes to this process, usually within a second.
   */
  release(live: LiveSession): void {
    live.refs--
    if (live.refs > 0 || live.storeId === undefined || this.#live.get(live.storeId) !== live) return
    if (isKeepable(live)) {
      if (++this.#kept > MAX_KEPT) this.#dropKept()
      return
    }
    this.#live.delete(live.storeId)
  }

  /** Drops the earliest kept half of the released sessions. */
  #dropKept(): void {
    for (const [storeId, live] of this.#live) {
      if (this.#kept <= MAX_KEPT / 2) return
      if (live instanceof LiveSession && live.refs <= 0) {
        this.#live.delete(storeId)
        this.#kept--
      }
    }
  }

  /**
   * Ends the live sessions among `storeIds` whose records a store has already removed: requests
   * still holding them see them ended and cannot write them again.
   */
  endRemoved(storeIds: Iterable<string>): void {
    for (const storeId of storeIds) {
      const live = this.#live.get(storeId)
      if (!(live instanceof LiveSession)) continue
      this.#markEnded(live)
      live.stored = false
    }
  }

  /** Nobody can change `live` any more, and no new request finds it here. */
  #markEnded(live: LiveSession): void {
    live.ended = true
    live.dirty.clear()
    live.record = undefined
    if (live.storeId !== undefined && this.#live.get(live.storeId) === live) {
      this.#live.delete(live.storeId)
      if (live.refs <= 0) this.#kept--
    }
  }

  /** Ends a live session for everyone holding it and removes its record. */
  async end(live: LiveSession): Promise<void> {
    this.#markEnded(live)
    if (!live.stored || live.storeId === undefined) return
    // Let a write already on its way land first, so the destroy is the last word.
    if (live.writing !== undefined) await live.writing.catch(() => undefined)
    await this.#records.destroy(live.storeId)
    live.stored = false
  }
}

/** A released session whose state is its record's, and nothing of it pending. */
function isKeepable(live: LiveSession): boolean {
  return (
    live.record !== undefined &&
    live.record.revision === live.revision &&
    live.stored &&
    !live.ended &&
    live.dirty.size === 0 &&
    live.writing === undefined &&
    !live.touchRequested
  )
}
