import { randomBytes } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import type { Metrics } from '../metrics.js'
import { optionError, positiveInteger, positiveNumber, rejectUnknownOptions } from '../validate.js'
import { RedisStore, type RedisStoreOptions } from './redis.js'
import type { Subscription } from './redis-client.js'
import type { SessionStore, SessionWrite, StoredSession, WriteConflict } from './store.js'

export interface HybridStoreOptions extends Omit<RedisStoreOptions, 'publish'> {
  /**
   * Most sessions kept in this process's cache (least recently used go first). Each entry holds
   * the session as stored (encrypted when encryption is on) and, once it has been read, its
   * decrypted JSON (so hits cost no AES), so memory is about twice the size of your sessions times
   * this number.
   * @default 10_000
   */
  maxEntries?: number
  /**
   * How often, in ms, to try to re-establish the invalidation subscription after it dropped.
   * While it is down the cache is bypassed (every read goes to Redis), so nothing stale is served.
   * @default 1000
   */
  resyncInterval?: number
}

interface Cached {
  session: StoredSession
  expiresAt: number
}

/** A read or write in flight; a change announced meanwhile makes its result unfit for the cache. */
interface Flight {
  stale: boolean
  epoch: number
  /** Registered in Redis as a holder, so writers elsewhere will announce changes to it. */
  held: boolean
}

/**
 * How long an announcement is remembered. The cluster bus delivers the other masters' copies
 * within milliseconds; one arriving later than this only costs a needless cache miss.
 */
const HEARD_WINDOW_MS = 10_000
/** Most announcements remembered per generation (about 100 bytes each). */
const HEARD_LIMIT = 50_000

const DEFAULTS = {
  maxEntries: 10_000,
  resyncInterval: 1000,
}

/**
 * A bounded in-process cache in front of RedisStore. Under affinity the owner worker reads its
 * sessions from memory (no round trip); every change made by any process is announced by the
 * write script on `<prefix>invalidate` (Redis pub/sub, cluster-wide), and each HybridStore drops
 * the announced session from its cache. While the subscription is down (or not yet confirmed by a
 * probe message), the cache is bypassed, so a failover, a misrouted request or a second node never
 * reads a copy that another process has changed.
 *
 * The ordering this rests on: a writer's call returns only after the announcement has left Redis
 * (the write script publishes, then the writer waits one more round trip, paid only when another
 * process held the session). Whatever the writer does next (answer its client, who then sends the
 * next request here) comes after the announcement reached this process's socket, and the event
 * loop reads sockets in the order they became readable, so the announcement is applied first.
 * Each announcement carries the writer's origin and a sequence number: in a cluster it arrives
 * from every master (the bus relays it), and only the first copy counts.
 *
 * @example
 * const store = new HybridStore({ client: new Redis(), maxEntries: 50_000 })
 * app.use(stickySession({ secret, store }))
 */
export class HybridStore implements SessionStore {
  readonly inProcess = false
  /** The backing store; writes go straight through it. */
  readonly redis: RedisStore
  readonly maxEntries: number
  readonly #resyncInterval: number
  readonly #cache: LRUCache<string, Cached>
  readonly #flights = new Map<string, Set<Flight>>()
  #metrics: Metrics | undefined
  #subscription: Subscription | undefined
  /** Bumped whenever the invalidation stream may have had a gap. */
  #epoch = 0
  /** Invalidations are confirmed to be flowing: the cache may be used. */
  #caching = false
  #syncing = false
  #opening = false
  #closed = false
  #retry: NodeJS.Timeout | undefined
  #probe: { nonce: string; heard: () => void } | undefined
  #waiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = []
  readonly #heard = new RecentlyHeard(HEARD_WINDOW_MS, HEARD_LIMIT)

  constructor(options: HybridStoreOptions) {
    if (typeof options !== 'object' || options === null)
      throw optionError('HybridStore options', 'an object', options)
    rejectUnknownOptions(options, ['client', 'prefix', 'timeout', 'maxEntries', 'resyncInterval'])
    this.maxEntries = positiveInteger('maxEntries', options.maxEntries, DEFAULTS.maxEntries)
    this.#resyncInterval = positiveNumber('resyncInterval', options.resyncInterval, DEFAULTS.resyncInterval)
    const { maxEntries: _m, resyncInterval: _r, ...redisOptions } = options
    this.redis = new RedisStore({ ...redisOptions, publish: true })
    this.#cache = new LRUCache<string, Cached>({ max: this.maxEntries })
    void this.#open()
  }

  /** True while the cache is in use (the invalidation subscription is confirmed). */
  get caching(): boolean {
    return this.#caching
  }

  /** Resolves once the cache is in use (reads before that simply go to Redis); rejects on close(). */
  ready(): Promise<void> {
    if (this.#caching) return Promise.resolve()
    if (this.#closed) return Promise.reject(new Error('HybridStore is closed'))
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }))
  }

  /** Sessions held in the cache right now. */
  get cached(): number {
    return this.#cache.size
  }

  attachMetrics(metrics: Metrics): void {
    this.#metrics = metrics
  }

  /**
   * The cached session, when the cache is in use and holds it unexpired (counted as a hit); else
   * undefined, and only get() can tell. The core opens a cached session with it in the request's
   * own turn. The record is frozen and handed out as is: no copy per hit.
   */
  getCached(id: string): StoredSession | undefined {
    if (!this.#caching) return undefined
    const hit = this.#cache.get(id)
    if (hit === undefined) return undefined
    if (hit.expiresAt <= Date.now()) {
      this.#cache.delete(id)
      return undefined
    }
    this.#metrics?.increment('cacheHits')
    return hit.session
  }

  async get(id: string): Promise<StoredSession | undefined> {
    if (this.#caching && this.#cache.has(id)) {
      // A caller in this very process may have just seen another HybridStore's write return (two
      // stores in one process): let the event loop read sockets that are already readable, so an
      // announcement that left Redis before this read began is applied before the cache is read.
      await yieldToIo()
    }
    const hit = this.getCached(id)
    if (hit !== undefined) return hit
    this.#metrics?.increment('cacheMisses')
    const flight = this.#begin(id)
    let record: Awaited<ReturnType<RedisStore['read']>>
    try {
      record = await this.redis.read(id, flight.held)
    } finally {
      this.#end(id, flight)
    }
    if (record === undefined) return undefined
    if (this.#fresh(flight) && isValid(record.session) && Number.isFinite(record.expiresAt)) {
      this.#cache.set(id, { session: frozen(record.session), expiresAt: record.expiresAt })
    }
    return record.session
  }

  async write(id: string, change: SessionWrite): Promise<boolean | WriteConflict> {
    const before = this.#cache.peek(id)
    this.#invalidate(id)
    const flight = this.#begin(id)
    let result: Awaited<ReturnType<RedisStore['apply']>>
    try {
      result = await this.redis.apply(id, change, flight.held)
    } finally {
      this.#end(id, flight)
      this.#invalidate(id)
    }
    const outcome = result.outcome
    // Another process changed the record: the cache (already dropped) is refilled by the next read.
    if (outcome === 'conflict') return { conflict: result.current! }
    if (this.#fresh(flight)) {
      if (outcome === 'created') {
        const fields: Record<string, string> = Object.create(null)
        Object.assign(fields, change.set)
        const session: StoredSession = {
          fields,
          createdAt: change.createdAt,
          touchedAt: change.touchedAt,
          established: change.established,
          ...(change.seal !== undefined && { seal: change.seal }),
        }
        this.#cache.set(id, { session: frozen(session), expiresAt: change.expiresAt })
      } else if (outcome === 'updated' && before !== undefined && !result.shared) {
        // (When another process held it too, it may have changed what `before` shows: re-read.)
        const session = copy(before.session)
        for (const key of change.unset) delete session.fields[key]
        Object.assign(session.fields, change.set)
        session.established ||= change.established
        if (change.seal === undefined) delete session.seal
        else session.seal = change.seal
        let expiresAt = before.expiresAt
        if (change.touchedAt >= session.touchedAt) {
          session.touchedAt = change.touchedAt
          expiresAt = change.expiresAt
        }
        this.#cache.set(id, { session: frozen(session), expiresAt })
      }
    }
    return outcome !== 'gone'
  }

  async touch(id: string, touchedAt: number, expiresAt: number): Promise<boolean> {
    const before = this.#cache.peek(id)
    this.#invalidate(id)
    const flight = this.#begin(id)
    let ok: boolean
    try {
      ok = await this.redis.touch(id, touchedAt, expiresAt)
    } finally {
      this.#end(id, flight)
      this.#invalidate(id)
    }
    if (ok && before !== undefined && this.#fresh(flight)) {
      const session = copy(before.session)
      if (touchedAt >= session.touchedAt) {
        session.touchedAt = touchedAt
        this.#cache.set(id, { session: frozen(session), expiresAt })
      } else {
        this.#cache.set(id, { session: before.session, expiresAt: before.expiresAt })
      }
    }
    return ok
  }

  async destroy(id: string): Promise<void> {
    this.#invalidate(id)
    try {
      await this.redis.destroy(id)
    } finally {
      this.#invalidate(id)
    }
  }

  /** See RedisStore#sessionsOf. */
  sessionsOf(userId: string): Promise<string[]> {
    return this.redis.sessionsOf(userId)
  }

  /** See RedisStore#destroyAll; also drops those sessions from this process's cache. */
  async destroyAll(userId: string): Promise<string[]> {
    const ended = await this.redis.destroyAll(userId)
    for (const id of ended) this.#invalidate(id)
    return ended
  }

  ids(): Promise<string[]> {
    return this.redis.ids()
  }

  /** Removes every session in Redis under the prefix and tells every HybridStore to empty its cache. */
  async clear(): Promise<void> {
    this.#dropAll()
    await this.redis.clear()
    this.#dropAll()
    await this.redis.announce(`${this.redis.origin}:*`, true)
  }

  /** Closes the subscriber connection and stops the resync timer; the client stays open. */
  async close(): Promise<void> {
    this.#closed = true
    this.#caching = false
    clearTimeout(this.#retry)
    for (const waiter of this.#waiters.splice(0)) waiter.reject(new Error('HybridStore is closed'))
    this.#cache.clear()
    const subscription = this.#subscription
    this.#subscription = undefined
    await subscription?.close()
  }

  async #open(): Promise<void> {
    if (this.#opening || this.#closed) return
    this.#opening = true
    try {
      const subscription = await this.redis.subscribe({
        message: (message) => this.#onMessage(message),
        ready: () => void this.#sync(),
        down: () => this.#down(),
      })
      if (this.#closed) {
        await subscription.close()
        return
      }
      this.#subscription = subscription
    } catch {
      // Could not even open the connection: stay uncached and try again.
      this.#scheduleSync()
      return
    } finally {
      this.#opening = false
    }
    await this.#sync()
  }

  /**
   * Confirms the subscription end to end: subscribe (again), publish a probe through the main
   * client, and only turn the cache on once the probe came back on the subscriber.
   */
  async #sync(): Promise<void> {
    if (this.#closed || this.#syncing || this.#caching) return
    const subscription = this.#subscription
    // Still opening: #open() syncs when it is done.
    if (subscription === undefined) return
    this.#syncing = true
    const epoch = this.#epoch
    let timer: NodeJS.Timeout | undefined
    try {
      await this.redis.resubscribe(subscription)
      if (!this.redis.subscriberReady(subscription)) throw new Error('subscriber not connected')
      const nonce = randomBytes(9).toString('base64url')
      // Listening before the probe goes out: it can come back before the publish returns.
      const heard = new Promise<void>((resolve, reject) => {
        timer = setTimeout(() => reject(new Error('probe not heard')), this.redis.timeout)
        timer.unref()
        this.#probe = { nonce, heard: resolve }
      })
      // Awaited together: when the publish fails (the main connection is still down while the
      // subscriber is back), the wait's timeout must not reject with nobody listening, which
      // would end the process as an unhandled rejection.
      await Promise.all([this.redis.announce(`${this.redis.origin}:~${nonce}`), heard])
      if (epoch === this.#epoch && !this.#closed) {
        this.#caching = true
        for (const waiter of this.#waiters.splice(0)) waiter.resolve()
      }
    } catch {
      // Redis (or the subscriber) is not back yet; the retry timer tries again.
    } finally {
      clearTimeout(timer)
      this.#probe = undefined
      this.#syncing = false
      if (!this.#caching) this.#scheduleSync()
    }
  }

  #scheduleSync(): void {
    if (this.#closed || this.#retry !== undefined) return
    this.#retry = setTimeout(() => {
      this.#retry = undefined
      void (this.#subscription === undefined ? this.#open() : this.#sync())
    }, this.#resyncInterval)
    this.#retry.unref()
  }

  /** The subscriber dropped: announcements may be lost from now on, so forget everything. */
  #down(): void {
    this.#epoch++
    this.#caching = false
    this.#dropAll()
    this.#scheduleSync()
  }

  #onMessage(message: string): void {
    const colon = message.indexOf(':')
    if (colon < 0) return
    const sender = message.slice(0, colon)
    const subject = message.slice(colon + 1)
    if (subject.startsWith('~')) {
      if (this.#probe !== undefined && subject.slice(1) === this.#probe.nonce) this.#probe.heard()
      return
    }
    if (subject === '*') {
      this.#dropAll()
      return
    }
    // `<origin>.<sequence>`: a change, announced once but heard from every master of a cluster.
    const dot = sender.indexOf('.')
    const origin = dot < 0 ? sender : sender.slice(0, dot)
    // Our own changes were applied to the cache when their write returned.
    if (origin === this.redis.origin) return
    // A later copy would drop a copy read after the change, which is current.
    if (dot >= 0 && this.#heard.repeats(sender)) return
    this.#invalidate(subject)
  }

  /** Drops a session from the cache and spoils reads and writes of it still in flight. */
  #invalidate(id: string): void {
    this.#cache.delete(id)
    const flights = this.#flights.get(id)
    if (flights !== undefined) for (const flight of flights) flight.stale = true
  }

  #dropAll(): void {
    this.#cache.clear()
    for (const flights of this.#flights.values()) for (const flight of flights) flight.stale = true
  }

  #begin(id: string): Flight {
    const flight: Flight = { stale: false, epoch: this.#epoch, held: this.#caching }
    let flights = this.#flights.get(id)
    if (flights === undefined) {
      flights = new Set()
      this.#flights.set(id, flights)
    }
    flights.add(flight)
    return flight
  }

  #end(id: string, flight: Flight): void {
    const flights = this.#flights.get(id)
    if (flights === undefined) return
    flights.delete(flight)
    if (flights.size === 0) this.#flights.delete(id)
  }

  /** A result may enter the cache: nothing was announced for it meanwhile and no gap occurred. */
  #fresh(flight: Flight): boolean {
    return flight.held && this.#caching && !flight.stale && flight.epoch === this.#epoch
  }
}

function yieldToIo(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

/**
 * Announcements heard in the last one to two windows, in two generations (no timer). A generation
 * also ends after `limit` names, which bounds memory when many changes are announced (a missed
 * repeat only costs a cache miss).
 */
class RecentlyHeard {
  readonly #window: number
  readonly #limit: number
  #current = new Set<string>()
  #previous = new Set<string>()
  #since = Date.now()

  constructor(window: number, limit: number) {
    this.#window = window
    this.#limit = limit
  }

  /** Records `name`; true when it was already heard. */
  repeats(name: string): boolean {
    const now = Date.now()
    if (now - this.#since >= this.#window || this.#current.size >= this.#limit) {
      this.#previous = now - this.#since >= 2 * this.#window ? new Set() : this.#current
      this.#current = new Set()
      this.#since = now
    }
    if (this.#current.has(name) || this.#previous.has(name)) return true
    this.#current.add(name)
    return false
  }
}

/** A copy that cannot be changed by whoever reads it from the cache. */
function frozen(session: StoredSession): StoredSession {
  const fields = copy(session).fields
  Object.freeze(fields)
  return Object.freeze({
    fields,
    createdAt: session.createdAt,
    touchedAt: session.touchedAt,
    established: session.established,
    ...(session.seal !== undefined && { seal: session.seal }),
  })
}

function copy(session: StoredSession): StoredSession {
  const fields: Record<string, string> = Object.create(null)
  Object.assign(fields, session.fields)
  return {
    fields,
    createdAt: session.createdAt,
    touchedAt: session.touchedAt,
    established: session.established,
    ...(session.seal !== undefined && { seal: session.seal }),
  }
}

function isValid(session: StoredSession): boolean {
  return (
    typeof session.fields === 'object' &&
    session.fields !== null &&
    Number.isFinite(session.createdAt) &&
    Number.isFinite(session.touchedAt)
  )
}
