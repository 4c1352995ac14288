import { TetherError } from './errors.js'
import type { LiveSession } from './live-session.js'
import type { LiveTable } from './live-table.js'
import type { Metrics } from './metrics.js'
import type { RegenerateOptions, Session, SessionKey, SessionValue } from './session.js'

/**
 * `req.session`: the app's view of a request's session, one small object per request. It owns
 * what the request changed: which live session it holds (regenerate and destroy swap it), whether
 * a cookie must be sent or cleared, and its last change. Its request's SessionContext reads these
 * through the accessors below, which are not part of {@link Session}.
 */
export class SessionView implements Session {
  readonly #table: LiveTable
  readonly #metrics: Metrics
  #live: LiveSession
  /** This request must send a cookie: new session, regenerated, or re-signed by a newer secret. */
  #issue: boolean
  /** This request ended a session that the browser holds a cookie for. */
  #cleared = false
  /** The live session's version after this request's last change (0: none). */
  #changedAt = 0

  constructor(table: LiveTable, metrics: Metrics, live: LiveSession, reissue: boolean) {
    this.#table = table
    this.#metrics = metrics
    this.#live = live
    this.#issue = reissue
  }

  /** The live session this request holds now. */
  get live(): LiveSession {
    return this.#live
  }

  /** This request must send a cookie for its session. */
  get mustIssue(): boolean {
    return this.#issue
  }

  /** This request ended a session that the browser holds a cookie for: the cookie is cleared. */
  get cleared(): boolean {
    return this.#cleared
  }

  /** The live session's version after this request's last change (0: none). */
  get changedAt(): number {
    return this.#changedAt
  }

  get<K extends SessionKey>(key: K): SessionValue<K> | undefined {
    const live = this.#live
    const json = live.ended ? undefined : live.values.get(key)
    if (json === undefined) return undefined
    const unclaimed = live.unclaimed
    if (unclaimed !== undefined) {
      // JSON never parses to undefined: undefined here means "already claimed".
      const value = unclaimed.get(key)
      if (value !== undefined) {
        unclaimed.delete(key)
        return value as SessionValue<K>
      }
    }
    // A fresh parse per call: changing what get returned changes nothing until it is set again.
    return JSON.parse(json) as SessionValue<K>
  }

  set<K extends SessionKey>(key: K, value: SessionValue<K>): void {
    this.#set(key, value)
  }

  #set<K extends SessionKey>(key: K, value: SessionValue<K> | undefined): void {
    const live = this.#live
    // A session ended by another request (logout) takes no more writes from slow requests.
    if (live.ended) return
    if (typeof key !== 'string') throw new TypeError('session keys must be strings')
    live.unclaimed?.delete(key)
    if (value === undefined) {
      if (!live.values.has(key)) return
      live.writableValues().delete(key)
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
      this.#table.assignToken(live)
      this.#issue = true
    }
    // The text is the copy: what the caller does to `value` afterwards changes nothing stored.
    live.writableValues().set(key, json)
    live.dirty.set(key, json)
    this.#changedAt = ++live.version
  }

  delete(key: SessionKey): boolean {
    const had = this.#live.values.has(key)
    if (had) this.#set(key, undefined)
    return had
  }

  has(key: SessionKey): boolean {
    const live = this.#live
    return !live.ended && live.values.has(key)
  }

  keys(): string[] {
    const live = this.#live
    return live.ended ? [] : [...live.values.keys()]
  }

  get isNew(): boolean {
    return !this.#live.stored
  }

  async regenerate(options: RegenerateOptions = {}): Promise<void> {
    const keep = options.keep ?? true
    const old = this.#live
    const table = this.#table
    const next = table.fresh()
    next.established = true
    for (const [key, json] of old.ended ? [] : old.values) {
      if (keep === true || (Array.isArray(keep) && keep.includes(key))) next.writableValues().set(key, json)
    }
    // The old id dies now, for this request and any other still holding it.
    await table.end(old)
    table.release(old)
    this.#metrics.increment('regenerated')
    this.#live = next
    this.#changedAt = 0
    table.assignToken(next)
    this.#issue = true
    for (const [key, json] of next.values) next.dirty.set(key, json)
    // An established session with no data still has to be stored so its cookie means something.
    next.stored = false
  }

  async destroy(): Promise<void> {
    const old = this.#live
    const table = this.#table
    const hadCookie = old.token !== undefined
    await table.end(old)
    table.release(old)
    this.#metrics.increment('destroyed')
    this.#live = table.fresh()
    this.#changedAt = 0
    this.#issue = false
    if (hadCookie) this.#cleared = true
  }

  touch(): void {
    this.#live.touchRequested = true
  }
}
