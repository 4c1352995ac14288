import { type ResolvedCookieOptions, readCookieValues } from './cookie/cookie-header.js'
import { type KnownCookie, VerifiedCookies } from './cookie/verified-cookies.js'
import { encryptedCodec, plainCodec } from './crypto/field-codec.js'
import type { Keyring } from './crypto/keyring.js'
import { Flusher } from './flush.js'
import type { LiveSession } from './live-session.js'
import { LiveTable } from './live-table.js'
import type { Metrics } from './metrics.js'
import { expiryOf, type ResolvedTetherOptions, resolveTetherOptions, type TetherOptions } from './options.js'
import { PlaintextMemo } from './plaintext-memo.js'
import { ROUTE_ENV } from './route.js'
import { SessionContext, type SessionServices } from './session-context.js'
import { SessionRecords } from './session-records.js'
import type { SessionStore } from './stores/store.js'
import { type EndsUserSessions, forgetManager, listManager, userSessionsBroadcast } from './user-sessions.js'
import { LOADING } from './wait.js'

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
  readonly #options: ResolvedTetherOptions
  /** Cookie values that verified recently (saves an HMAC and a SHA-256 per request). */
  readonly #verified: VerifiedCookies
  /** The live table, the flush engine and the cookie settings, shared by every request's context. */
  readonly #services: SessionServices

  /** Validates `options` (a TypeError names the first bad one) and sets up the engine. */
  constructor(options: TetherOptions) {
    const o = resolveTetherOptions(options)
    this.#options = o
    this.keyring = o.keyring
    this.#verified = new VerifiedCookies(o.keyring)
    this.store = o.store
    this.cookie = o.cookie
    this.idleTimeout = o.idleTimeout
    this.absoluteTimeout = o.absoluteTimeout
    this.touchInterval = o.touchInterval
    this.encrypted = o.encrypted
    this.route = o.route
    this.metrics = o.metrics
    const hostName = o.cookie.hostName
    const codec = o.encrypted ? encryptedCodec(o.keyring) : plainCodec
    const records = new SessionRecords(o, codec, new PlaintextMemo(o.decryptedCacheBytes))
    this.#services = {
      table: new LiveTable(records, o.route),
      flusher: new Flusher(o, codec),
      metrics: o.metrics,
      cookie: o.cookie,
      keyring: o.keyring,
      // `__Host-<name>=` where the plain name is read too (a cookie found under it moves over TLS).
      hostPrefix:
        hostName === undefined || hostName === o.cookie.readNames.at(-1) ? undefined : `${hostName}=`,
    }
    this.store.attachMetrics?.(this.metrics)
    const store = this.store
    if (store.count !== undefined) this.metrics.activeCount = () => store.count!()
    // In a cluster worker, "log out everywhere" reaches this manager's in-process store from any worker.
    if (store.inProcess && process.env[ROUTE_ENV] !== undefined) listManager(this.#userSessions)
  }

  /** What the cluster calls in this worker when any worker ends a user's sessions. */
  readonly #userSessions: EndsUserSessions = { endUserHere: (userId) => this.#endUserHere(userId) }

  /**
   * Ends every session of a user ("log out everywhere", after a password change or a stolen
   * laptop); resolves with how many there were. Needs the `owner` option, which ties each session
   * to its user when it is written. Requests of those sessions still in flight see them ended
   * and cannot bring them back. In a Tether cluster with an in-process store (MemoryStore), every
   * worker ends the user's sessions (and the copies it keeps for other workers).
   */
  async destroyAll(userId: string): Promise<number> {
    if (this.#options.owner === undefined) {
      throw new TypeError(
        'destroyAll() needs the owner option: owner: (session) => the user id, so that sessions are tied to their user',
      )
    }
    if (typeof userId !== 'string' || userId === '') {
      throw new TypeError(`destroyAll() needs a non-empty string user id (got ${typeof userId})`)
    }
    const broadcast = this.store.inProcess ? userSessionsBroadcast() : undefined
    return broadcast === undefined ? (await this.#endUserHere(userId)).length : broadcast(userId)
  }

  async #endUserHere(userId: string): Promise<string[]> {
    if (this.store.destroyAll === undefined) {
      throw new TypeError(
        'destroyAll() needs a store that keeps a per-user index (MemoryStore, RedisStore, HybridStore); this one has no destroyAll()',
      )
    }
    const ended = await this.store.destroyAll(userId)
    this.#services.table.endRemoved(ended)
    if (ended.length > 0) this.metrics.increment('destroyed', ended.length)
    return ended
  }

  /**
   * Starts a request's session from its Cookie header. Forged, malformed or unknown cookies give a
   * fresh session without a store read; a store failure rejects with ERR_TETHER_STORE_UNAVAILABLE.
   * `client` is where rejected cookies are counted from (metrics): the request's address, or an
   * object whose `ip` gives it (Express's `req`, Fastify's `request`), read only when one is.
   */
  async open(
    cookieHeader: unknown,
    client?: string | { readonly ip: string | undefined },
  ): Promise<SessionContext> {
    for (const value of readCookieValues(cookieHeader, this.cookie.readNames)) {
      const checked = this.#verified.check(value)
      if (checked === 'format') {
        this.metrics.increment('rejectedFormat')
        this.metrics.countRejectedFrom(addressOf(client), 1)
        continue
      }
      if (checked === 'mac') {
        this.metrics.increment('rejectedMac')
        this.metrics.countRejectedFrom(addressOf(client), 1)
        continue
      }
      const live = await this.#services.table.acquire(checked.storeId, checked.token, checked.route)
      return this.#contextFor(checked, live, cookieHeader as string, value)
    }
    return this.#freshContext()
  }

  /**
   * `open()` without waiting (see wait.ts): the context, or undefined when this moment needs
   * `open()` (the session must be read from a store without synchronous reads, or another request
   * is loading it). No cookie, a rejected one, a session that a request in flight already holds, or
   * one the store has in its cache never need a store read; with MemoryStore nothing does. Throws
   * ERR_TETHER_STORE_UNAVAILABLE where `open()` would reject with it.
   */
  openNow(
    cookieHeader: unknown,
    client?: string | { readonly ip: string | undefined },
  ): SessionContext | undefined {
    // Rejections are counted once this form is sure to finish: open() would count them again.
    let rejectedFormat = 0
    let rejectedMac = 0
    let context: SessionContext | undefined
    for (const value of readCookieValues(cookieHeader, this.cookie.readNames)) {
      const checked = this.#verified.check(value)
      if (checked === 'format') {
        rejectedFormat++
        continue
      }
      if (checked === 'mac') {
        rejectedMac++
        continue
      }
      const live = this.#services.table.acquireNow(checked.storeId, checked.token, checked.route)
      if (live === LOADING) return undefined
      context = this.#contextFor(checked, live, cookieHeader as string, value)
      break
    }
    if (rejectedFormat + rejectedMac > 0) {
      if (rejectedFormat > 0) this.metrics.increment('rejectedFormat', rejectedFormat)
      if (rejectedMac > 0) this.metrics.increment('rejectedMac', rejectedMac)
      this.metrics.countRejectedFrom(addressOf(client), rejectedFormat + rejectedMac)
    }
    return context ?? this.#freshContext()
  }

  /** The context for a verified cookie's session, held once (`live`), or undefined when it is gone. */
  #contextFor(
    checked: KnownCookie,
    live: LiveSession | undefined,
    header: string,
    value: string,
  ): SessionContext {
    // A cookie signed by an older secret is re-issued under the newest.
    const reissue = live !== undefined && checked.keyIndex > 0
    if (reissue) this.metrics.increment('reissued')
    if (live === undefined) {
      // Gone here: keep the cookie's route, which tells the adapter where the request belonged.
      return new SessionContext(this.#services, this.#services.table.fresh(), false, checked.route)
    }
    // Where the `__Host-` prefix applies, the commit checks (over TLS only) which name it came under.
    const sent = this.#services.hostPrefix === undefined ? undefined : header
    return new SessionContext(this.#services, live, reissue, checked.route, sent, value)
  }

  /** The context of a request without a verified cookie: a fresh session. */
  #freshContext(): SessionContext {
    return new SessionContext(this.#services, this.#services.table.fresh(), false, undefined)
  }

  /** Releases the store if the manager created it (the default MemoryStore). */
  async close(): Promise<void> {
    forgetManager(this.#userSessions)
    if (this.#options.ownsStore) await this.store.close()
  }

  /** When a session created at `createdAt` and last active at `touchedAt` expires. */
  expiresAt(createdAt: number, touchedAt: number): number {
    return expiryOf(this.#options, createdAt, touchedAt)
  }
}

/** The address a request's rejected cookies are counted under, asked only when there are some. */
function addressOf(client: string | { readonly ip: string | undefined } | undefined): string | undefined {
  return typeof client === 'object' && client !== null ? client.ip : client
}
