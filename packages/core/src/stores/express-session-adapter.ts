import { storeIdOf } from '../crypto/session-id.js'
import type { SessionStore, SessionWrite, StoredSession } from './store.js'

/*
 * Adapters both ways between Tether's SessionStore and express-session's Store interface
 * (get/set/destroy/touch with a callback, or returning a promise as newer stores do).
 */

type Callback = (error?: unknown, value?: unknown) => void
/** The parts of an express-session store that Tether calls. */
export interface ExpressSessionStoreLike {
  get(sid: string, callback: Callback): unknown
  set(sid: string, session: unknown, callback: Callback): unknown
  destroy(sid: string, callback: Callback): unknown
  clear?(callback: Callback): unknown
  length?(callback: Callback): unknown
}

/** Calls a store method that takes a trailing callback and may also return a promise. */
function invoke<T>(fn: (...args: never[]) => unknown, self: unknown, ...args: unknown[]): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const callback: Callback = (error, value) => (error ? reject(error) : resolve(value as T))
    try {
      const result = (fn as (...a: unknown[]) => unknown).call(self, ...args, callback)
      if (
        result !== null &&
        typeof result === 'object' &&
        typeof (result as Promise<T>).then === 'function'
      ) {
        ;(result as Promise<T>).then(resolve, reject)
      }
    } catch (error) {
      reject(error)
    }
  })
}

/** A JSON text's value; undefined for text that is not JSON (it then reads as a corrupt session). */
function parseOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** How a Tether session is kept inside an express-session store. */
interface Envelope {
  /** express-session stores (connect-redis among them) take the TTL from cookie.expires. */
  cookie: { expires: string; originalMaxAge: number }
  tether: StoredSession
}

export interface FromExpressSessionStoreOptions {
  /**
   * Whether the backing store keeps data inside this process; decides the encryption default.
   * @default false
   */
  inProcess?: boolean
}

/**
 * Lets an express-session store (connect-redis, connect-mongo, …) back Tether.
 * express-session stores replace whole sessions, so a write reads, merges and writes back: two
 * processes writing one session at the same moment can lose a change. Within one worker, Tether's
 * shared live sessions still serialise writes. Prefer RedisStore for atomic per-key writes.
 *
 * @example
 * import { RedisStore as ConnectRedis } from 'connect-redis'
 * app.use(stickySession({ secret, store: fromExpressSessionStore(new ConnectRedis({ client })) }))
 */
export function fromExpressSessionStore(
  store: ExpressSessionStoreLike,
  options: FromExpressSessionStoreOptions = {},
): SessionStore {
  for (const method of ['get', 'set', 'destroy'] as const) {
    if (typeof store?.[method] !== 'function') {
      throw new TypeError(`store must be an express-session Store with a ${method}() method`)
    }
  }
  const read = async (id: string): Promise<Envelope | undefined> => {
    const value = await invoke<unknown>(store.get, store, id)
    if (value === null || value === undefined) return undefined
    const envelope = (typeof value === 'string' ? parseOrUndefined(value) : value) as Envelope
    // Hand back a shape the core can validate: garbage reads as a corrupt session, not a crash.
    return typeof envelope === 'object' && envelope !== null && typeof envelope.tether === 'object'
      ? envelope
      : {
          cookie: { expires: new Date(0).toISOString(), originalMaxAge: 0 },
          tether: { fields: null } as never,
        }
  }
  const save = (id: string, session: StoredSession, expiresAt: number) => {
    const envelope: Envelope = {
      cookie: {
        expires: new Date(expiresAt).toISOString(),
        originalMaxAge: Math.max(0, expiresAt - Date.now()),
      },
      tether: session,
    }
    return invoke<void>(store.set, store, id, envelope)
  }
  return {
    inProcess: options.inProcess ?? false,
    async get(id) {
      return (await read(id))?.tether
    },
    async write(id: string, change: SessionWrite) {
      const current = (await read(id))?.tether
      if (current === undefined && !change.create) return false
      // Another process wrote the record since this writer read it. (The store's get and set are
      // two calls, so a write landing between them is still lost: express-session stores offer no
      // atomic update.)
      if (current !== undefined && current.seal !== change.sealBefore) return { conflict: current }
      // Null-prototype records throughout: keys come from users, `__proto__` included.
      const fields: Record<string, string> = Object.assign(Object.create(null), current?.fields)
      for (const key of change.unset) delete fields[key]
      Object.assign(fields, change.set)
      await save(
        id,
        {
          fields,
          createdAt: current?.createdAt ?? change.createdAt,
          touchedAt: change.touchedAt,
          established: change.established || current?.established === true,
          seal: change.seal,
        },
        change.expiresAt,
      )
      return true
    },
    async touch(id, touchedAt, expiresAt) {
      const current = (await read(id))?.tether
      if (current === undefined) return false
      await save(id, { ...current, touchedAt }, expiresAt)
      return true
    },
    async destroy(id) {
      await invoke<void>(store.destroy, store, id)
    },
    ...(typeof store.clear === 'function' && { clear: () => invoke<void>(store.clear!, store) }),
    ...(typeof store.length === 'function' && { count: () => invoke<number>(store.length!, store) }),
    async close() {},
  }
}

/** The express-session module (its default export), from which the Store base class is taken. */
export interface ExpressSessionModule {
  Store: abstract new () => object
}

/** An express-session session object as its Store methods receive it. */
interface ExpressSessionData {
  cookie?: { expires?: string | Date | null; originalMaxAge?: number | null }
  [key: string]: unknown
}

/**
 * Sets an own property even for `__proto__` (which plain assignment turns into a prototype change),
 * keeping an ordinary object for express-session to read.
 */
function defineOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
}

/** Lifetime used when express-session gives no cookie expiry (a browser-session cookie): one day. */
const DEFAULT_TTL = 86_400_000

/**
 * Lets a Tether store (MemoryStore, RedisStore, HybridStore) serve as express-session's `store`.
 * express-session ids are hashed before they reach the store, like Tether's own tokens.
 *
 * @example
 * import session from 'express-session'
 * app.use(session({ secret, store: toExpressSessionStore(new RedisStore({ client }), session), resave: false, saveUninitialized: false }))
 */
export function toExpressSessionStore(store: SessionStore, expressSession: ExpressSessionModule): object {
  if (typeof expressSession?.Store !== 'function') {
    throw new TypeError(
      'expressSession must be the express-session module (import session from "express-session")',
    )
  }
  const expiryOf = (session: ExpressSessionData) => {
    const expires = session.cookie?.expires
    const at = expires ? new Date(expires).getTime() : Number.NaN
    return Number.isFinite(at) ? at : Date.now() + DEFAULT_TTL
  }
  /**
   * Hands the outcome to an express-session callback, and returns a promise for callers that await
   * instead (as with connect-redis 9). The callback runs on a later tick, outside the promise
   * chain, so one that throws is an ordinary uncaught exception, never an unhandled rejection; with
   * a callback the returned promise does not reject (the callback got the error).
   */
  const settle = <T>(promise: Promise<T>, callback: Callback | undefined): Promise<T | undefined> => {
    if (typeof callback !== 'function') return promise
    return promise.then(
      (value) => {
        process.nextTick(callback, null, value)
        return value
      },
      (error: unknown) => {
        process.nextTick(callback, error)
        return undefined
      },
    )
  }
  const read = async (id: string): Promise<Record<string, unknown> | null> => {
    const stored = await store.get(id)
    if (stored === undefined) return null
    const session: Record<string, unknown> = {}
    for (const [key, json] of Object.entries(stored.fields)) defineOwn(session, key, JSON.parse(json))
    // A record whose cookie has expired is gone, whatever the store still holds (as with
    // express-session's MemoryStore).
    if (expiryOf(session as ExpressSessionData) <= Date.now()) {
      await store.destroy(id)
      return null
    }
    return session
  }
  const write = async (id: string, session: ExpressSessionData, onlyExisting: boolean): Promise<void> => {
    const now = Date.now()
    const expiresAt = expiryOf(session)
    if (expiresAt <= now) return store.destroy(id) // saved already expired: nothing to keep
    const set: Record<string, string> = Object.create(null)
    // What JSON.stringify drops (undefined, functions, symbols) is not kept, as express-session's
    // own stores do: stored as undefined it would make every later read fail.
    for (const [key, value] of Object.entries(session)) {
      const json = JSON.stringify(value)
      if (json !== undefined) set[key] = json
    }
    const current = await store.get(id)
    if (current === undefined && onlyExisting) return
    const unset = current === undefined ? [] : Object.keys(current.fields).filter((k) => !(k in set))
    await store.write(id, {
      set,
      unset,
      createdAt: current?.createdAt ?? now,
      touchedAt: now,
      expiresAt,
      established: current?.established ?? false,
      create: !onlyExisting,
    })
  }
  class TetherBackedStore extends expressSession.Store {
    get(sid: string, callback?: Callback) {
      return settle(read(storeIdOf(sid)), callback)
    }
    set(sid: string, session: ExpressSessionData, callback?: Callback) {
      return settle(write(storeIdOf(sid), session, false), callback)
    }
    /** Like express-session's MemoryStore: the stored cookie (and so its expiry) is the one given. */
    touch(sid: string, session: ExpressSessionData, callback?: Callback) {
      const id = storeIdOf(sid)
      const touched = async () => {
        const current = await store.get(id)
        if (current === undefined) return
        if (current.fields.cookie === JSON.stringify(session.cookie)) {
          await store.touch(id, Date.now(), expiryOf(session))
          return
        }
        const next: ExpressSessionData = {}
        for (const [key, json] of Object.entries(current.fields)) defineOwn(next, key, JSON.parse(json))
        if (session.cookie !== undefined) next.cookie = session.cookie
        await write(id, next, true)
      }
      return settle(touched(), callback)
    }
    destroy(sid: string, callback?: Callback) {
      return settle(store.destroy(storeIdOf(sid)), callback)
    }
  }
  // Offered only where the store can answer them (express-session treats them as optional).
  // There is no all(): ids are hashed at rest, so the store cannot give express-session's ids back.
  const proto = TetherBackedStore.prototype as unknown as Record<string, unknown>
  if (typeof store.clear === 'function') {
    proto.clear = function clear(callback?: Callback) {
      return settle(store.clear!(), callback)
    }
  }
  const count =
    typeof store.count === 'function'
      ? () => store.count!()
      : typeof store.ids === 'function'
        ? async () => (await store.ids!()).length // RedisStore: a SCAN of its keys
        : undefined
  if (count !== undefined) {
    proto.length = function length(callback?: Callback) {
      return settle(count(), callback)
    }
  }
  return new TetherBackedStore()
}
