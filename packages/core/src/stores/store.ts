import type { Metrics } from '../metrics.js'

/**
 * A session as a store keeps it. Values are opaque strings made by the core (JSON, sealed when
 * encryption at rest is on), one per top-level key, so a store can write changed keys alone.
 */
export interface StoredSession {
  /** Encoded top-level values by key. */
  fields: Record<string, string>
  /** When the session was created (ms since epoch): the anchor of the absolute timeout. */
  createdAt: number
  /** Last recorded activity (ms since epoch): the anchor of the idle timeout. */
  touchedAt: number
  /**
   * The session has been through `regenerate()` (what login calls). Stores that must shed load
   * evict anonymous sessions first and never evict established ones to make room.
   */
  established: boolean
  /** The record's seal: the one of its latest write (see `SessionWrite.seal`), when it has one. */
  seal?: string | undefined
  /**
   * Optional, for a record that `getNow` returns as the store's own (in-process stores): a number
   * that changes whenever the record does. The core then keeps a released session's decoded state
   * and serves the next request from it while the record is the same object at the same revision.
   */
  readonly revision?: number
}

/**
 * A write refused because the record's seal is not the one the writer named in `sealBefore`
 * (another process changed the record meanwhile): the record as it is now, for the core to check
 * and seal its change over.
 */
export interface WriteConflict {
  readonly conflict: StoredSession
}

/** One commit of a session's changes. */
export interface SessionWrite {
  /** Changed keys with their new encoded values. */
  set: Record<string, string>
  /** Keys removed from the session. */
  unset: string[]
  createdAt: number
  touchedAt: number
  /** When the store may forget the session (ms since epoch): the earlier of the two timeouts. */
  expiresAt: number
  established: boolean
  /**
   * True for a session that does not exist yet. When false the store must only update an existing
   * record and return false if there is none: a request that loaded a session before it was
   * destroyed must not bring it back when it commits afterwards.
   */
  create: boolean
  /**
   * With encryption at rest, an opaque string that authenticates the record as this write leaves
   * it. The store replaces the record's seal with it (or removes the seal when it is absent) and
   * returns it with the record.
   */
  seal?: string
  /**
   * The seal of the record this write was made from (absent for a new record). When the record
   * exists and its seal differs (absent counts as a value of its own), the store must write
   * nothing and return the record as a {@link WriteConflict}, all in one atomic step: the seal
   * covers every value, so a write sealed over an older state would make the record unreadable.
   */
  sealBefore?: string
  /**
   * Optional owner (a user id) for stores that keep a per-user index, so an app can end every
   * session of one user.
   */
  owner?: string
  /**
   * The route in the session's cookie, for stores that group sessions by it (MemoryStore under the
   * cluster's replication). Absent, a new record belongs to this process's own route.
   */
  route?: string
}

/**
 * The one asynchronous interface every Tether store implements. Ids are the core's hashed store
 * ids, never raw tokens. A store rejects (throws) only when it cannot do its job (a dead server):
 * the adapters turn that into a 503, never into a silently empty session.
 */
export interface SessionStore {
  /** True when the data never leaves this process; encryption at rest is then off by default. */
  readonly inProcess: boolean
  /** The session, or undefined when there is none (or it has expired). */
  get(id: string): Promise<StoredSession | undefined>
  /**
   * Applies a write atomically; false when `create` is false and the session no longer exists, a
   * conflict when the record's seal is not `sealBefore`.
   */
  write(id: string, change: SessionWrite): Promise<boolean | WriteConflict>
  /** Records activity without changing data; false when the session no longer exists. */
  touch(id: string, touchedAt: number, expiresAt: number): Promise<boolean>
  /** Removes the session; a later write with `create: false` must not recreate it. */
  destroy(id: string): Promise<void>
  /**
   * Ends every session whose writes carried `owner: userId` ("log out everywhere"); resolves with
   * their ids. A later write with `create: false` must not recreate any of them.
   */
  destroyAll?(userId: string): Promise<string[]>
  /** How many sessions are stored, where the store can tell cheaply. */
  count?(): Promise<number>
  /** Removes every session. */
  clear?(): Promise<void>
  /** Ids of every session, where the store can list them (express-session's `all`). */
  ids?(): Promise<string[]>
  /**
   * Synchronous forms of get, write and touch, for stores that never wait (MemoryStore): with
   * them the core opens and commits a session without a turn of the event loop. Same contract as
   * the asynchronous ones, except that `getNow` may return the store's own record, which callers
   * read and never change; a store offers all three or none.
   */
  getNow?(id: string): StoredSession | undefined
  writeNow?(id: string, change: SessionWrite): boolean | WriteConflict
  touchNow?(id: string, touchedAt: number, expiresAt: number): boolean
  /**
   * True while writes must wait for something outside this process (MemoryStore under the
   * cluster's `replication: 'sync'`): the core still writes with the synchronous forms, then awaits
   * settled() before the response goes out.
   */
  readonly writesWait?: boolean
  /** With `writesWait`: resolves once every write and touch made so far is acknowledged. */
  settled?(): Promise<void>
  /**
   * A copy of the session that this process holds and knows to be current (a cache hit), without
   * waiting; undefined when the store would have to ask its server, which never means "no
   * session". Lets the core open a cached session in the same turn as the request, like an
   * in-process store. Callers read the record and never change it.
   */
  getCached?(id: string): StoredSession | undefined
  /** Called by the core so the store can report its own counters (cache hits, evictions). */
  attachMetrics?(metrics: Metrics): void
  /** Releases timers and connections it owns. */
  close(): Promise<void>
}
