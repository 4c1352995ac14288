import type { Metrics } from '../metrics.js'
import { DEFAULT_ROUTE, ROUTE_ENV } from '../route.js'
import { optionError, positiveInteger, positiveNumber, rejectUnknownOptions, warnOnce } from '../validate.js'
import { ExpiryIndex } from './expiry-index.js'
import { copyFields, newFields } from './fields.js'
import { forgetLocalStore, listLocalStore } from './local-stores.js'
import { Entry, wholeRecord } from './memory-entry.js'
import { OwnerIndex } from './owner-index.js'
import { offerForReplication, type ReplicaFeed, type ReplicaOp, type ReplicaSource } from './replication.js'
import type { SessionStore, SessionWrite, StoredSession, WriteConflict } from './store.js'

export interface MemoryStoreOptions {
  /**
   * Most sessions kept. When full, a new session evicts the least recently active *anonymous*
   * session (one that never went through `regenerate()`, which login calls); established sessions
   * are never evicted to make room. If every stored session is established, creating a session
   * fails with a store error (a 503) instead. So a flood of new sessions can push out other
   * anonymous visitors, but never signs anybody out.
   * @default 100_000
   */
  maxSessions?: number
  /**
   * How often expired sessions are removed, in ms. A pass costs time proportional to the sessions
   * that expired, not to the sessions stored. Reads never return an expired session either way.
   * @default 1000
   */
  sweepInterval?: number
}

/**
 * The embedded default store: sessions in this process's memory. Fine for one process or a
 * Tether cluster with affinity (each worker keeps its own sessions); sessions are lost when the
 * process exits, so use RedisStore when that matters.
 *
 * @example
 * const store = new MemoryStore({ maxSessions: 50_000 })
 */
export class MemoryStore implements SessionStore {
  readonly inProcess = true
  readonly maxSessions: number
  readonly #entries = new Map<string, Entry>()
  /**
   * Anonymous sessions, least recently active first, as a list threaded through the entries:
   * moving or removing one costs no hashing, which keeps expiry passes cheap.
   */
  #oldest: Entry | undefined
  #newest: Entry | undefined
  readonly #expiry: ExpiryIndex<Entry>
  readonly #owners = new OwnerIndex<Entry>()
  readonly #timer: NodeJS.Timeout
  #metrics: Metrics | undefined
  /** Where changes go when the cluster replicates this store to a backup worker. */
  #feed: ReplicaFeed | undefined
  /** The route of sessions written without one (this worker's own). */
  readonly #ownRoute = process.env[ROUTE_ENV] ?? DEFAULT_ROUTE

  constructor(options: MemoryStoreOptions = {}) {
    if (typeof options !== 'object' || options === null)
      throw optionError('MemoryStore options', 'an object', options)
    rejectUnknownOptions(options, ['maxSessions', 'sweepInterval'])
    this.maxSessions = positiveInteger('maxSessions', options.maxSessions, 100_000)
    const sweepInterval = positiveNumber('sweepInterval', options.sweepInterval, 1000)
    this.#expiry = new ExpiryIndex(sweepInterval)
    this.#timer = setInterval(() => this.sweep(), sweepInterval)
    // A session store must never be what keeps a process from exiting.
    this.#timer.unref()
    if (process.env.NODE_ENV === 'production') {
      warnOnce(
        'TETHER_MEMORY_STORE',
        'MemoryStore keeps sessions in process memory: they are lost on restart and not shared between machines. Use RedisStore in production unless that is what you want.',
      )
    }
    // In a cluster worker, the cluster may copy every change to a backup worker (`replication`),
    // and reports how many sessions the worker holds.
    if (process.env[ROUTE_ENV] !== undefined) {
      listLocalStore(this)
      offerForReplication((hub) => {
        this.#feed = hub.attach(this.#replicaSource())
      })
    }
  }

  /** True while the cluster replicates this store synchronously: a write is done once the backup has it. */
  get writesWait(): boolean {
    return this.#feed?.waits === true
  }

  attachMetrics(metrics: Metrics): void {
    this.#metrics = metrics
  }

  async get(id: string): Promise<StoredSession | undefined> {
    const session = this.getNow(id)
    return session === undefined ? undefined : this.#copyOf(session)
  }

  /** A copy of a stored record that its reader may keep while the store goes on changing it. */
  #copyOf(session: StoredSession): StoredSession {
    const fields = newFields()
    copyFields(fields, session.fields)
    return {
      fields,
      createdAt: session.createdAt,
      touchedAt: session.touchedAt,
      established: session.established,
      ...(session.seal !== undefined && { seal: session.seal }),
    }
  }

  /** With `writesWait`: resolves once the backup has every change made so far (or it timed out). */
  settled(): Promise<void> {
    return this.#feed?.waits === true ? this.#feed.settled() : Promise.resolve()
  }

  async write(id: string, change: SessionWrite): Promise<boolean | WriteConflict> {
    const done = this.writeNow(id, change)
    if (done === true && this.#feed?.waits === true) await this.#feed.settled()
    return done
  }

  async touch(id: string, touchedAt: number, expiresAt: number): Promise<boolean> {
    const done = this.touchNow(id, touchedAt, expiresAt)
    if (done && this.#feed?.waits === true) await this.#feed.settled()
    return done
  }

  /** The stored record itself, not a copy (see SessionStore.getNow): read it, do not change it. */
  getNow(id: string): StoredSession | undefined {
    return this.#live(id, Date.now())
  }

  writeNow(id: string, change: SessionWrite): boolean | WriteConflict {
    let entry = this.#live(id, Date.now())
    const created = entry === undefined
    // Another writer (a replicated change) moved the record on since this writer read it.
    if (entry !== undefined && entry.seal !== change.sealBefore) return { conflict: this.#copyOf(entry) }
    if (entry === undefined) {
      if (!change.create) return false
      this.#makeRoom()
      entry = new Entry(id, change, change.route ?? this.#ownRoute)
      this.#entries.set(id, entry)
      this.#expiry.schedule(entry, change.expiresAt)
    } else {
      this.#expiry.schedule(entry, change.expiresAt)
      entry.expiresAt = change.expiresAt
      entry.touchedAt = change.touchedAt
      entry.established ||= change.established
      entry.seal = change.seal
    }
    entry.revision++
    const fields = entry.fields
    for (const key of change.unset) delete fields[key]
    copyFields(fields, change.set)
    if (change.owner !== undefined) this.#owners.assign(entry, change.owner)
    this.#markActive(entry)
    // A new record goes whole (its `set` is every field); later ones as the change alone.
    this.#feed?.changed({
      op: 'write',
      id,
      route: entry.route,
      set: change.set,
      unset: change.unset,
      createdAt: entry.createdAt,
      touchedAt: entry.touchedAt,
      expiresAt: entry.expiresAt,
      established: entry.established,
      full: created,
      seal: entry.seal,
      owner: entry.owner,
    })
    return true
  }

  touchNow(id: string, touchedAt: number, expiresAt: number): boolean {
    const entry = this.#live(id, Date.now())
    if (entry === undefined) return false
    this.#expiry.schedule(entry, expiresAt)
    entry.expiresAt = expiresAt
    entry.touchedAt = touchedAt
    entry.revision++
    this.#markActive(entry)
    this.#feed?.changed({ op: 'touch', id, route: entry.route, touchedAt, expiresAt })
    return true
  }

  async destroy(id: string): Promise<void> {
    const entry = this.#entries.get(id)
    this.#remove(id)
    if (entry === undefined || this.#feed === undefined) return
    this.#feed.changed({ op: 'destroy', id, route: entry.route })
    if (this.#feed.waits) await this.#feed.settled()
  }

  /**
   * Sessions stored and not expired. The sweep goes first; entries that expired since its last
   * bucket are skipped by a walk over the rest (count() is rare: express-session's length()).
   */
  async count(): Promise<number> {
    const now = Date.now()
    this.sweep(now)
    let live = 0
    for (const entry of this.#entries.values()) if (entry.expiresAt > now) live++
    return live
  }

  async ids(): Promise<string[]> {
    const now = Date.now()
    return [...this.#entries].filter(([, e]) => e.expiresAt > now).map(([id]) => id)
  }

  /**
   * Ends every session of a user ("log out everywhere": needs the SessionManager's `owner`
   * option); returns their ids. In a cluster, SessionManager#destroyAll asks every worker.
   */
  async destroyAll(userId: string): Promise<string[]> {
    const ended: string[] = []
    for (const entry of this.#owners.of(assertUserId(userId))) {
      ended.push(entry.id)
      this.#remove(entry.id)
      this.#feed?.changed({ op: 'destroy', id: entry.id, route: entry.route })
    }
    if (ended.length > 0 && this.#feed?.waits === true) await this.#feed.settled()
    return ended
  }

  /** Store ids of a user's live sessions (needs the SessionManager's `owner` option). */
  async sessionsOf(userId: string): Promise<string[]> {
    const now = Date.now()
    return this.#owners
      .of(assertUserId(userId))
      .filter((entry) => entry.expiresAt > now)
      .map((entry) => entry.id)
  }

  async clear(): Promise<void> {
    if (this.#feed !== undefined)
      for (const entry of this.#entries.values())
        this.#feed.changed({ op: 'destroy', id: entry.id, route: entry.route })
    this.#entries.clear()
    this.#owners.clear()
    this.#oldest = this.#newest = undefined
    this.#expiry.clear()
  }

  /** Number of sessions held right now, expired ones not yet swept included. */
  get size(): number {
    return this.#entries.size
  }

  /** Removes every session whose expiry has passed; returns how many. Runs on its own timer too. */
  sweep(now = Date.now()): number {
    let removed = 0
    this.#expiry.takeExpired(now, (entry) => {
      // Buckets are coarse: an entry in an ended bucket may expire a few ms from now. Re-file it.
      if (entry.expiresAt > now) {
        this.#expiry.schedule(entry, entry.expiresAt)
        return
      }
      this.#entries.delete(entry.id)
      this.#unlist(entry)
      this.#owners.remove(entry)
      removed++
    })
    return removed
  }

  async close(): Promise<void> {
    clearInterval(this.#timer)
    forgetLocalStore(this)
  }

  /** What the cluster's replication reads and applies: changes from other workers are never sent on. */
  #replicaSource(): ReplicaSource {
    return {
      apply: (change) => this.#applyReplica(change),
      snapshot: (route) => {
        const now = Date.now()
        const records: ReplicaOp[] = []
        for (const entry of this.#entries.values())
          if (entry.route === route && entry.expiresAt > now) records.push(wholeRecord(entry))
        return records
      },
      current: (id, route) => {
        const entry = this.#live(id, Date.now())
        return entry === undefined ? { op: 'destroy', id, route } : wholeRecord(entry)
      },
      drop: (keep) => {
        let dropped = 0
        for (const entry of [...this.#entries.values()]) {
          if (keep(entry.route)) continue
          this.#remove(entry.id)
          dropped++
        }
        return dropped
      },
    }
  }

  #applyReplica(change: ReplicaOp): boolean {
    const now = Date.now()
    if (change.op === 'destroy') {
      this.#remove(change.id)
      return true
    }
    let entry = this.#live(change.id, now)
    if (change.op === 'touch') {
      if (entry === undefined) return false
      this.#expiry.schedule(entry, change.expiresAt)
      entry.expiresAt = change.expiresAt
      entry.touchedAt = change.touchedAt
      entry.revision++
      this.#markActive(entry)
      return true
    }
    if (change.expiresAt <= now) {
      this.#remove(change.id)
      return true
    }
    if (entry === undefined) {
      // A change to a record this copy never had (a write lost on the way): the owner resends it whole.
      if (!change.full) return false
      try {
        this.#makeRoom()
      } catch {
        return false // full of established sessions: this copy is missing, the owner still has it
      }
      entry = new Entry(change.id, change, change.route)
      this.#entries.set(change.id, entry)
      this.#expiry.schedule(entry, change.expiresAt)
    } else {
      this.#expiry.schedule(entry, change.expiresAt)
      entry.expiresAt = change.expiresAt
      entry.touchedAt = change.touchedAt
      entry.createdAt = change.createdAt
      entry.established = change.full ? change.established : entry.established || change.established
      entry.route = change.route
      entry.seal = change.seal
    }
    entry.revision++
    const fields = entry.fields
    if (change.full) for (const key of Object.keys(fields)) delete fields[key]
    for (const key of change.unset) delete fields[key]
    Object.assign(fields, change.set)
    if (change.full || change.owner !== undefined) this.#owners.assign(entry, change.owner)
    this.#markActive(entry)
    return true
  }

  #live(id: string, now: number): Entry | undefined {
    const entry = this.#entries.get(id)
    if (entry === undefined) return undefined
    if (entry.expiresAt <= now) {
      this.#drop(entry)
      return undefined
    }
    return entry
  }

  #remove(id: string): void {
    const entry = this.#entries.get(id)
    if (entry !== undefined) this.#drop(entry)
  }

  /** Removes a stored entry (the caller has it already: no second lookup). */
  #drop(entry: Entry): void {
    this.#entries.delete(entry.id)
    this.#unlist(entry)
    this.#owners.remove(entry)
    this.#expiry.unschedule(entry)
  }

  /** Moves an anonymous entry to the newest end of the list (and drops an established one from it). */
  #markActive(entry: Entry): void {
    this.#unlist(entry)
    if (entry.established) return
    entry.older = this.#newest
    if (this.#newest === undefined) this.#oldest = entry
    else this.#newest.newer = entry
    this.#newest = entry
    entry.listed = true
  }

  #unlist(entry: Entry): void {
    if (!entry.listed) return
    if (entry.older === undefined) this.#oldest = entry.newer
    else entry.older.newer = entry.newer
    if (entry.newer === undefined) this.#newest = entry.older
    else entry.newer.older = entry.older
    entry.older = entry.newer = undefined
    entry.listed = false
  }

  #makeRoom(): void {
    if (this.#entries.size < this.maxSessions) return
    if (this.sweep() > 0 && this.#entries.size < this.maxSessions) return
    const oldest = this.#oldest
    if (oldest === undefined) {
      throw new Error(`MemoryStore is full: ${this.maxSessions} established sessions (maxSessions)`)
    }
    this.#drop(oldest)
    this.#metrics?.increment('evictions')
    this.#feed?.changed({ op: 'destroy', id: oldest.id, route: oldest.route })
  }
}

function assertUserId(userId: unknown): string {
  if (typeof userId !== 'string' || userId === '') {
    throw new TypeError(
      `destroyAll() and sessionsOf() need a non-empty string user id (got ${typeof userId})`,
    )
  }
  return userId
}
