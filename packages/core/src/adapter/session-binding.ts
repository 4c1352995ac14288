import { isMisrouted } from '../route.js'
import type { Session } from '../session.js'
import type { SessionContext } from '../session-context.js'
import type { SessionManager } from '../session-manager.js'
import type { WAIT } from '../wait.js'

/**
 * One request's session tied to its response: the state machine every adapter shares. It commits
 * before the response head goes out (at once with `commitNow()` when it can, else `commit()`), and
 * releases the session once: when the response is over, or, if a commit is still running then,
 * when that commit settles (its store write must not race a later request's load).
 *
 * An adapter subclasses it to say how its framework tells a TLS request (`secure`) and adds what
 * it needs to answer; the binding itself is what the core asks for `secure`, so a request costs
 * no closure.
 */
export abstract class SessionBinding {
  #committing = false
  #over = false

  constructor(readonly ctx: SessionContext) {}

  /** The request's session (what `req.session` shows). */
  get session(): Session {
    return this.ctx.session
  }

  /** Whether the request came over TLS; asked by the core only when a cookie is sent. */
  abstract get secure(): boolean

  /** The response is over (sent, or the client went away); a running commit releases later. */
  release(): void {
    this.#over = true
    if (!this.#committing) this.ctx.release()
  }

  /** The commit done at once (an in-process store): the Set-Cookie header, or WAIT for `commit()`. */
  commitNow(): string | undefined | typeof WAIT {
    return this.ctx.commitNow(this)
  }

  /** Stores the session; resolves with the Set-Cookie header to send, if any. */
  async commit(): Promise<string | undefined> {
    this.#committing = true
    try {
      return await this.ctx.commit(this)
    } finally {
      this.#committing = false
      if (this.#over) this.ctx.release()
    }
  }
}

/**
 * True when a pooled keep-alive connection brought another worker's session here: the adapter
 * then answers with `Connection: close`, so that the client's next request is routed afresh to
 * the owner. Counts it (`misroutes`) and tells the context, which then neither stores nor sends a
 * session this request would create here.
 */
export function detectMisroute(
  manager: SessionManager,
  ctx: SessionContext,
  socket: object | null | undefined,
): boolean {
  if (!isMisrouted(ctx.route, manager.route, socket)) return false
  manager.metrics.increment('misroutes')
  ctx.markMisrouted()
  return true
}
