import { type ResolvedCookieOptions, serializeSetCookie } from './cookie/cookie-header.js'
import { signCookieValue } from './cookie/cookie-value.js'
import type { Keyring } from './crypto/keyring.js'
import type { Flusher, FlushOutcome } from './flush.js'
import type { LiveSession } from './live-session.js'
import type { LiveTable } from './live-table.js'
import type { Metrics } from './metrics.js'
import type { Session } from './session.js'
import { SessionView } from './session-view.js'
import { WAIT } from './wait.js'

/**
 * Whether a request came over TLS: a boolean, or something asked only when a cookie is sent (a
 * function, or an object whose `secure` says it, such as Express's `req`), since working it out
 * through trusted proxies is not free.
 */
export type SecureRequest = boolean | (() => boolean) | { readonly secure: boolean }

/** What a request's session needs from the manager that opened it; one object per manager. */
export interface SessionServices {
  readonly table: LiveTable
  readonly flusher: Flusher
  readonly metrics: Metrics
  readonly cookie: ResolvedCookieOptions
  readonly keyring: Keyring
  /** `__Host-<name>=` where the plain name is read too; undefined where the prefix does not apply. */
  readonly hostPrefix: string | undefined
}

/**
 * One request's view of its session: `session` for the app, `commit` and `release` for the
 * adapter.
 */
export class SessionContext {
  /** The request's session, for the app (`req.session`). */
  readonly session: Session
  readonly #view: SessionView
  readonly #services: SessionServices
  #released = false
  /** The route of the verified cookie the request carried, even when its session was not found. */
  readonly #cookieRoute: string | undefined
  #misrouted = false
  #committedHeader: string | undefined
  #committed = false
  /**
   * The Cookie header and the session's cookie value in it, where the `__Host-` prefix applies:
   * the commit checks, on a TLS request only, whether it came under the plain name.
   */
  readonly #cookieHeader: string | undefined
  readonly #cookieValue: string | undefined

  /** Made by `SessionManager.open()`; `live` is held once for this request. */
  constructor(
    services: SessionServices,
    live: LiveSession,
    reissue: boolean,
    cookieRoute: string | undefined,
    cookieHeader?: string,
    cookieValue?: string,
  ) {
    this.#services = services
    this.#cookieRoute = cookieRoute
    this.#cookieHeader = cookieHeader
    this.#cookieValue = cookieValue
    this.#view = new SessionView(services.table, services.metrics, live, reissue)
    this.session = this.#view
  }

  /**
   * The route of the verified cookie the request carried (the worker that owns its session), even
   * when that session was not found here; else the route of this request's new session.
   */
  get route(): string {
    return this.#cookieRoute ?? this.#view.live.route
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
    const view = this.#view
    const live = view.live
    if (this.#misrouted && !live.stored) return this.#finish(undefined)
    const outcome = live.ended ? 'gone' : await this.#services.flusher.flush(live, view, view.changedAt)
    return this.#finish(this.#headerFor(outcome, secureRequest))
  }

  /**
   * `commit()` without waiting (see wait.ts): the Set-Cookie header (or undefined), or WAIT when
   * `commit()` is needed (something to store in a store without synchronous writes). Throws
   * ERR_TETHER_STORE_UNAVAILABLE where `commit()` would reject with it.
   */
  commitNow(secureRequest: SecureRequest): string | undefined | typeof WAIT {
    const view = this.#view
    const live = view.live
    if (this.#misrouted && !live.stored) return this.#finish(undefined)
    const outcome = live.ended ? 'gone' : this.#services.flusher.flushNow(live, view, view.changedAt)
    if (outcome === WAIT) return WAIT
    return this.#finish(this.#headerFor(outcome, secureRequest))
  }

  /** Ends this request's hold on the session; call once when the response is finished or aborted. */
  release(): void {
    if (this.#released) return
    this.#released = true
    this.#services.table.release(this.#view.live)
  }

  #headerFor(outcome: FlushOutcome, secureRequest: SecureRequest): string | undefined {
    const view = this.#view
    const live = view.live
    const cookie = this.#services.cookie
    if (outcome === 'gone' || !live.stored) {
      // Only the request that destroyed the session clears the cookie: a slow request that merely
      // held an ended session must not wipe the cookie a concurrent login has just issued.
      return view.cleared ? serializeSetCookie(cookie, undefined, isSecure(secureRequest)) : undefined
    }
    const due = view.mustIssue || (cookie.maxAge !== undefined && outcome !== 'unchanged')
    if (!due && this.#cookieHeader === undefined) return undefined
    const secure = isSecure(secureRequest)
    // A cookie read under the plain name moves to `__Host-` once a request comes over TLS.
    if (!due && !((secure || cookie.secure === true) && this.#cameUnprefixed())) return undefined
    // The cookie value under the newest secret.
    const value = signCookieValue(live.token!, live.route, this.#services.keyring)
    return serializeSetCookie(cookie, value, secure)
  }

  /** The session's cookie came under the plain name, not under `__Host-<name>`. */
  #cameUnprefixed(): boolean {
    const header = this.#cookieHeader!
    const value = this.#cookieValue!
    const prefix = this.#services.hostPrefix!
    // `<prefix><value>` anywhere in the header, found without building that string.
    for (let at = header.indexOf(value); at >= 0; at = header.indexOf(value, at + 1)) {
      if (at >= prefix.length && header.startsWith(prefix, at - prefix.length)) return false
    }
    return true
  }

  /** The first commit's header is the one sent; later commits only save later changes. */
  #finish(header: string | undefined): string | undefined {
    if (this.#committed) return this.#committedHeader
    this.#committed = true
    this.#committedHeader = header
    return header
  }
}

/** Whether the request came over TLS; a function or object is asked only when a cookie is sent. */
function isSecure(secureRequest: SecureRequest): boolean {
  if (typeof secureRequest === 'boolean') return secureRequest
  return typeof secureRequest === 'function' ? secureRequest() : secureRequest.secure
}
