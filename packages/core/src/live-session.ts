import type { RecordSeal } from './crypto/record-seal.js'
import type { StoredSession } from './stores/store.js'

/**
 * The state of one session inside this process, shared by every in-flight request that carries
 * its cookie. Under affinity all of a session's requests reach one worker, so sharing this object
 * means concurrent requests see each other's changes and commit together instead of each loading
 * and overwriting a private copy.
 */
export class LiveSession {
  /** Hashed store id; undefined for a fresh session that has not been given a token yet. */
  storeId: string | undefined
  token: string | undefined
  /** The route stamped in the cookie: the worker that owns the session. */
  route: string
  /**
   * Each value's JSON text: `get` parses a copy, so callers never hold the shared value. Changed
   * only through `writableValues()`: a session loaded through the decrypted-text memo reads the
   * memo's map, which nothing ever changes, until its first change copies it.
   */
  values: ReadonlyMap<string, string>
  /** `values` is the memo's map (see writableValues). */
  #borrowed: boolean
  /**
   * Values parsed while loading that no caller has been given yet: the first `get` of a key takes
   * its value from here (no caller else ever sees that object), later ones parse a copy.
   */
  unclaimed: Map<string, unknown> | undefined
  /** Keys changed since the last write: key -> JSON, or undefined for a removed key. */
  dirty = new Map<string, string | undefined>()
  createdAt: number
  touchedAt: number
  established: boolean
  /** The store holds a record for it (so writes must not create one). */
  stored: boolean
  /**
   * With encryption at rest, the record's seal as last read or written: the next write names it
   * and seals the record's next state from it. Undefined before the first write.
   */
  seal: RecordSeal | undefined
  /**
   * The in-process store's own record this session matches, at `revision` (see
   * StoredSession.revision): while both still hold, a released session can serve the next request
   * without decoding the record again. Undefined when that is not known.
   */
  record: StoredSession | undefined = undefined
  revision: number | undefined = undefined
  /** Set by destroy() and regenerate(): commits of requests still holding it write nothing. */
  ended = false
  /** Requests currently holding it. */
  refs = 0
  /** Changes made so far (each set or delete adds one): lets a commit wait for its own changes only. */
  version = 0
  /** The highest `version` known to be in the store. */
  savedVersion = 0
  /** The write in flight, which later commits wait for so writes reach the store in order. */
  writing: Promise<unknown> | undefined
  touchRequested = false

  constructor(init: {
    storeId?: string
    token?: string
    route: string
    values?: Map<string, string> | undefined
    /** A map this session may read but never change (the memo's): copied before the first change. */
    borrowedValues?: ReadonlyMap<string, string> | undefined
    unclaimed?: Map<string, unknown> | undefined
    createdAt: number
    touchedAt: number
    established: boolean
    stored: boolean
    seal?: RecordSeal | undefined
  }) {
    this.storeId = init.storeId
    this.token = init.token
    this.route = init.route
    this.#borrowed = init.borrowedValues !== undefined
    this.values = init.borrowedValues ?? init.values ?? new Map()
    this.unclaimed = init.unclaimed
    this.createdAt = init.createdAt
    this.touchedAt = init.touchedAt
    this.established = init.established
    this.stored = init.stored
    this.seal = init.seal
  }

  /** `values`, to be changed: copies a borrowed map first (saves a copy per read-only request). */
  writableValues(): Map<string, string> {
    if (this.#borrowed) {
      this.values = new Map(this.values)
      this.#borrowed = false
    }
    return this.values as Map<string, string>
  }
}
