import { randomBytes } from 'node:crypto'
import { optionError, positiveNumber, rejectUnknownOptions } from '../validate.js'
import { redactedError } from './redacted-error.js'
import {
  type RedisClientLike,
  type RedisConnection,
  redisConnection,
  replyMessage,
  type Subscription,
  type SubscriptionEvents,
} from './redis-client.js'
import {
  CREATE,
  CREATE_MAX_FIELDS,
  DESTROY,
  INDEX,
  READ,
  runScript,
  type Script,
  TOUCH,
  WRITE,
} from './redis-scripts.js'
import type { SessionStore, SessionWrite, StoredSession, WriteConflict } from './store.js'

export interface RedisStoreOptions {
  /**
   * A connected client: ioredis `Redis` or `Cluster`, or node-redis v5 `createClient()` /
   * `createCluster()`. The store never closes it. For fast failure while Redis is down (a 503
   * instead of a hanging request) configure it to fail rather than queue: ioredis
   * `{ enableOfflineQueue: false, maxRetriesPerRequest: 1 }`, node-redis
   * `{ disableOfflineQueue: true }`.
   */
  client: RedisClientLike
  /**
   * Prefix of every key. Sessions live at `<prefix>{<store id>}` (the braces make the whole id the
   * Redis Cluster hash tag), user indexes at `<prefix>user:{<user id>}`.
   * @default 'tether:'
   */
  prefix?: string
  /**
   * Milliseconds after which a store call gives up and rejects (the adapters answer 503), whatever
   * the client does meanwhile. A write that timed out may still land later; writes are idempotent.
   * @default 2000
   */
  timeout?: number
  /**
   * Announce a change on `<prefix>invalidate` when another process's HybridStore holds the session
   * in its cache, and wait one more round trip for the announcement to leave Redis. Nothing is
   * published for sessions no other process caches (the usual case under affinity). Turn it off
   * only when no HybridStore reads this prefix.
   * @default true
   */
  publish?: boolean
}

/**
 * What a write did: `gone` means there was no session and nothing was written, `conflict` that
 * the record's seal was not the write's `sealBefore` and nothing was written.
 */
export type RedisWriteOutcome = 'created' | 'updated' | 'gone' | 'conflict'

/** A write's outcome, and whether other processes held the session in their cache. */
export interface RedisWriteResult {
  outcome: RedisWriteOutcome
  /** Another process's HybridStore held a copy: it may have changed the session before this write. */
  shared: boolean
  /** With `conflict`: the record as it is. */
  current?: StoredSession
}

/**
 * A session as read, with its expiry. Garbage under the key reads as a session with null fields
 * and NaN times, which the core rejects, counts (decryptFailures) and deletes.
 */
export interface RedisRecord {
  session: StoredSession
  /** When Redis forgets it (ms since epoch), as last written. */
  expiresAt: number
}

const DEFAULTS = {
  prefix: 'tether:',
  // A store call must fail fast enough for a 503 to beat the client's own request timeout.
  timeout: 2000,
}

/** What a garbage key reads as: a record the core's validation rejects, counts and removes. */
function corrupt(): StoredSession {
  return { fields: null as never, createdAt: Number.NaN, touchedAt: Number.NaN, established: false }
}

/**
 * Sessions in Redis or Redis Cluster: one hash per session, read in one round trip (HGETALL),
 * changed keys written with the expiry in one Lua script, so parallel requests that change
 * different keys of one session both survive, and a write never recreates a destroyed session.
 * With `owner` set on the SessionManager it keeps a per-user index for "log out everywhere".
 *
 * @example
 * import { Redis } from 'ioredis'
 * const client = new Redis({ enableOfflineQueue: false, maxRetriesPerRequest: 1 })
 * app.use(stickySession({ secret, store: new RedisStore({ client }) }))
 */
export class RedisStore implements SessionStore {
  readonly inProcess = false
  readonly prefix: string
  readonly timeout: number
  /** Channel on which changes are announced to HybridStores. */
  readonly channel: string
  /** Identifies this store's own announcements, which it can ignore. */
  readonly origin = randomBytes(9).toString('base64url')
  readonly #redis: RedisConnection
  readonly #publish: boolean
  /** Announcements made so far (see #notice). */
  #announced = 0

  constructor(options: RedisStoreOptions) {
    if (typeof options !== 'object' || options === null)
      throw optionError('RedisStore options', 'an object', options)
    rejectUnknownOptions(options, ['client', 'prefix', 'timeout', 'publish'])
    this.#redis = redisConnection(options.client)
    const prefix = options.prefix ?? DEFAULTS.prefix
    if (typeof prefix !== 'string' || /[{}*?[\]\\]/.test(prefix)) {
      throw optionError('prefix', 'a string without braces or glob characters ({ } * ? [ ] \\)', prefix)
    }
    this.prefix = prefix
    this.timeout = positiveNumber('timeout', options.timeout, DEFAULTS.timeout)
    if (options.publish !== undefined && typeof options.publish !== 'boolean')
      throw optionError('publish', 'true or false', options.publish)
    this.#publish = options.publish ?? true
    this.channel = `${prefix}invalidate`
  }

  /** The Redis key of a session. */
  keyOf(id: string): string {
    return `${this.prefix}{${id}}`
  }

  /** The Redis key of a user's index of sessions. */
  userKeyOf(userId: string): string {
    return `${this.prefix}user:{${userId}}`
  }

  async get(id: string): Promise<StoredSession | undefined> {
    return (await this.read(id))?.session
  }

  /**
   * The session with its expiry; garbage under the key reads as a record the core rejects.
   * `hold` registers this store as a holder of a cached copy (HybridStore), so that writers in
   * other processes wait until their invalidation has been delivered.
   */
  async read(id: string, hold = false): Promise<RedisRecord | undefined> {
    const key = this.keyOf(id)
    let reply: unknown
    try {
      reply = hold ? await this.#script(READ, key, [this.origin]) : await this.#send(key, ['HGETALL', key])
    } catch (error) {
      if (replyMessage(error).startsWith('WRONGTYPE')) return { session: corrupt(), expiresAt: 0 }
      throw error
    }
    const hash = toRecord(reply)
    if (hash === undefined) return { session: corrupt(), expiresAt: 0 }
    return recordOf(hash)
  }

  async write(id: string, change: SessionWrite): Promise<boolean | WriteConflict> {
    const result = await this.apply(id, change)
    if (result.outcome === 'conflict') return { conflict: result.current! }
    return result.outcome !== 'gone'
  }

  /**
   * Applies a write and says whether it created the session, updated it, or found it gone.
   * With an owner, the user index is updated first: if that fails nothing is written, so a session
   * can never exist outside its owner's index (which would survive "log out everywhere").
   */
  async apply(id: string, change: SessionWrite, hold = false): Promise<RedisWriteResult> {
    if (change.owner !== undefined) await this.#index(change.owner, id, change.expiresAt)
    const keys = Object.keys(change.set)
    if (change.create && change.sealBefore === undefined && keys.length <= CREATE_MAX_FIELDS) {
      if (await this.#create(id, change, keys, hold)) return { outcome: 'created', shared: false }
    }
    const args = [
      change.create ? '1' : '0',
      String(change.createdAt),
      String(change.touchedAt),
      change.established ? '1' : '0',
      String(ttlOf(change.expiresAt)),
      String(change.expiresAt),
      change.owner ?? '',
      ...this.#notice(id),
      this.origin,
      hold ? '1' : '0',
      change.seal ?? '',
      change.sealBefore ?? '',
      String(keys.length),
    ]
    for (const key of keys) args.push(key, change.set[key]!)
    for (const key of change.unset) args.push(key)
    const reply = await this.#script(WRITE, this.keyOf(id), args)
    if (typeof reply === 'object' && reply !== null) {
      // The record moved on since the writer read it: its current state, to seal the change over.
      const hash = toRecord(reply)
      const current = hash === undefined ? undefined : recordOf(hash)
      return { outcome: 'conflict', shared: false, current: current?.session ?? corrupt() }
    }
    const result = Number(reply)
    const shared = result >= 4
    if (shared) await this.#barrier(this.keyOf(id))
    const outcome = result % 4
    return { outcome: outcome === 2 ? 'created' : outcome === 1 ? 'updated' : 'gone', shared }
  }

  /** A new record in one HSET with its expiry (CREATE); false when the key exists (nothing written). */
  async #create(id: string, change: SessionWrite, keys: string[], hold: boolean): Promise<boolean> {
    const args = [
      String(ttlOf(change.expiresAt)),
      'c',
      String(change.createdAt),
      't',
      String(change.touchedAt),
      'x',
      String(change.expiresAt),
    ]
    if (change.seal !== undefined) args.push('s', change.seal)
    if (change.established) args.push('e', '1')
    if (change.owner !== undefined) args.push('o', change.owner)
    if (hold) args.push('h', this.origin)
    for (const key of keys) args.push(`d:${key}`, change.set[key]!)
    return Number(await this.#script(CREATE, this.keyOf(id), args)) === 1
  }

  async touch(id: string, touchedAt: number, expiresAt: number): Promise<boolean> {
    const reply = await this.#script(TOUCH, this.keyOf(id), [
      String(touchedAt),
      String(ttlOf(expiresAt)),
      String(expiresAt),
      ...this.#notice(id),
      this.origin,
    ])
    if (!Array.isArray(reply)) return false
    const owner = String(reply[0])
    if (Number(reply[1]) === 1) await this.#barrier(this.keyOf(id))
    // The session lives longer now; its index entry must not be pruned before it.
    if (owner !== '') await this.#index(owner, id, expiresAt)
    return true
  }

  async destroy(id: string): Promise<void> {
    const { owner } = await this.#end(id)
    if (owner !== '') {
      await this.#send(this.userKeyOf(owner), ['ZREM', this.userKeyOf(owner), id])
    }
  }

  /**
   * Store ids of a user's live sessions (needs the SessionManager's `owner` option). Entries whose
   * session is gone are removed on the way, so the index follows expiry and destroy.
   */
  async sessionsOf(userId: string): Promise<string[]> {
    const index = this.userKeyOf(assertUserId(userId))
    // Every member, whatever its score says: existence is what counts.
    const members = toStrings(await this.#send(index, ['ZRANGE', index, '0', '-1']))
    const alive = await Promise.all(
      members.map((id) => this.#send(this.keyOf(id), ['EXISTS', this.keyOf(id)])),
    )
    const gone = members.filter((_, i) => Number(alive[i]) === 0)
    if (gone.length > 0) await this.#send(index, ['ZREM', index, ...gone])
    return members.filter((_, i) => Number(alive[i]) !== 0)
  }

  /**
   * Ends every session of a user ("log out everywhere"); returns how many existed. Requests of
   * those sessions still in flight cannot bring them back: their writes find no session.
   */
  async destroyAll(userId: string): Promise<string[]> {
    const index = this.userKeyOf(assertUserId(userId))
    const members = toStrings(await this.#send(index, ['ZRANGE', index, '0', '-1']))
    const ended: string[] = []
    await Promise.all(
      members.map(async (id) => {
        const { owner } = await this.#end(id, userId)
        // A session that now belongs to someone else (a stale index entry) is left alone.
        if (owner === userId) ended.push(id)
      }),
    )
    if (members.length > 0) await this.#send(index, ['ZREM', index, ...members])
    return ended
  }

  /** Ids of every stored session, by SCAN over every master (never KEYS). */
  async ids(): Promise<string[]> {
    const ids: string[] = []
    const start = this.prefix.length + 1
    await this.#scan((keys) => {
      for (const key of keys) ids.push(key.slice(start, -1))
    })
    return ids
  }

  /** Removes every session under this prefix (SCAN + UNLINK per master); user indexes too. */
  async clear(): Promise<void> {
    await this.#scan(async (keys, send) => {
      if (keys.length > 0) await Promise.all(keys.map((key) => send(['UNLINK', key])))
    }, `${this.prefix}*`)
  }

  /** The store never closes the client it was given. */
  async close(): Promise<void> {}

  /**
   * Subscribes to this prefix's invalidation channel on a connection of its own (HybridStore).
   * @internal
   */
  subscribe(events: SubscriptionEvents): Promise<Subscription> {
    return this.#redis.subscribe(this.channel, events)
  }

  /** @internal */
  resubscribe(subscription: Subscription): Promise<void> {
    return this.#timed(this.#redis.resubscribe(subscription, this.channel))
  }

  /** @internal */
  subscriberReady(subscription: Subscription): boolean {
    return this.#redis.subscriberReady(subscription)
  }

  /**
   * Publishes on the invalidation channel; with `settle`, also waits one more round trip so that
   * (on a standalone server) the message has left Redis before this resolves. @internal
   */
  async announce(message: string, settle = false): Promise<void> {
    await this.#send(undefined, ['PUBLISH', this.channel, message])
    if (settle) await this.#send(undefined, ['PING'])
  }

  /**
   * Deletes a session (only if `expectedOwner` owns it, when given); returns its owner ('' for
   * none).
   */
  async #end(id: string, expectedOwner = ''): Promise<{ owner: string }> {
    const key = this.keyOf(id)
    const reply = (await this.#script(DESTROY, key, [
      ...this.#notice(id),
      this.origin,
      expectedOwner,
    ])) as unknown[]
    if (Number(reply[1]) === 1) await this.#barrier(key)
    return { owner: String(reply[0]) }
  }

  /**
   * Waits until Redis has flushed the announcement of a change to the subscribers: Redis writes
   * the script's reply to this client before the PUBLISH to the others within one event-loop turn,
   * so one more round trip (served in a later turn) guarantees the announcement left the server
   * before this call returns. Only paid when another process held the session in its cache.
   */
  async #barrier(key: string): Promise<void> {
    if (this.#publish) await this.#send(key, ['EXISTS', key])
  }

  /**
   * The channel and message announcing a change of `id`: `<origin>.<sequence>:<id>`. The sequence
   * makes each announcement unique, so a subscriber that hears it more than once (from every
   * master of a cluster) can apply it once.
   */
  #notice(id: string): [string, string] {
    if (!this.#publish) return ['', '']
    return [this.channel, `${this.origin}.${(++this.#announced).toString(36)}:${id}`]
  }

  async #index(owner: string, id: string, expiresAt: number): Promise<void> {
    const index = this.userKeyOf(assertUserId(owner))
    await this.#script(INDEX, index, [id, String(expiresAt), String(Date.now())])
  }

  async #scan(
    each: (keys: string[], send: (args: string[]) => Promise<unknown>) => void | Promise<void>,
    match = `${this.prefix}{*}`,
  ): Promise<void> {
    for (const send of await this.#redis.masters()) {
      let cursor = '0'
      // Bounded by the keyspace: SCAN returns cursor 0 once it has visited every slot.
      do {
        const reply = (await this.#timed(send(['SCAN', cursor, 'MATCH', match, 'COUNT', '500']))) as [
          unknown,
          unknown,
        ]
        cursor = String(reply[0])
        await each(toStrings(reply[1]), (args) => this.#timed(send(args)))
      } while (cursor !== '0')
    }
  }

  #script(which: Script, key: string, args: string[]): Promise<unknown> {
    return this.#timed(runScript((a) => this.#redis.command(key, a), which, key, args))
  }

  #send(key: string | undefined, args: string[]): Promise<unknown> {
    return this.#timed(this.#redis.command(key, args))
  }

  #timed<T>(promise: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`Redis did not answer within ${this.timeout} ms (RedisStore timeout)`)),
        this.timeout,
      )
      timer.unref()
      promise.then(
        (value) => {
          clearTimeout(timer)
          resolve(value)
        },
        (error: unknown) => {
          clearTimeout(timer)
          reject(redactedError(error))
        },
      )
    })
  }
}

function ttlOf(expiresAt: number): number {
  // Relative, so the server's clock does not matter; 1 ms at least (0 would be an error).
  return Math.max(1, Math.ceil(expiresAt - Date.now()))
}

function numberOf(value: string | undefined): number {
  return value === undefined || value === '' ? Number.NaN : Number(value)
}

function assertUserId(userId: unknown): string {
  if (typeof userId !== 'string' || userId === '') {
    throw new TypeError(`owner must be a non-empty string user id (got ${typeof userId})`)
  }
  return userId
}

/** A session hash as a record; undefined for an empty hash (no such key). */
function recordOf(hash: Record<string, string>): RedisRecord | undefined {
  const fields: Record<string, string> = Object.create(null)
  let empty = true
  for (const name in hash) {
    empty = false
    if (name.startsWith('d:')) fields[name.slice(2)] = hash[name]!
  }
  if (empty) return undefined
  return {
    session: {
      fields,
      createdAt: numberOf(hash.c),
      touchedAt: numberOf(hash.t),
      established: hash.e === '1',
      ...(hash.s !== undefined && { seal: hash.s }),
    },
    expiresAt: numberOf(hash.x),
  }
}

/** HGETALL replies: a flat array (RESP2), an object or a Map (RESP3, ioredis). */
function toRecord(reply: unknown): Record<string, string> | undefined {
  const out: Record<string, string> = Object.create(null)
  if (Array.isArray(reply)) {
    if (reply.length % 2 !== 0) return undefined
    for (let i = 0; i < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1])
    return out
  }
  if (reply instanceof Map) {
    for (const [k, v] of reply) out[String(k)] = String(v)
    return out
  }
  if (typeof reply === 'object' && reply !== null) {
    for (const [k, v] of Object.entries(reply)) out[k] = String(v)
    return out
  }
  return undefined
}

function toStrings(reply: unknown): string[] {
  return Array.isArray(reply) ? reply.map(String) : []
}
