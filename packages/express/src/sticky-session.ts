import type { ServerResponse } from 'node:http'
import {
  isMisrouted,
  isTetherError,
  type Metrics,
  type Session,
  type SessionContext,
  SessionManager,
  type WAIT,
} from '@tether/core'
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import { commitBeforeHead, holdOwner } from './commit-before-head.js'
import { resolveAdapterOptions, STORE_UNAVAILABLE_BODY, type StickySessionOptions } from './options.js'
import { exposeSession } from './request-session.js'

/** The middleware returned by `stickySession()`, with the engine behind it. */
export interface StickySessionMiddleware extends RequestHandler {
  /** The session manager: store, cookie settings, route. */
  readonly manager: SessionManager
  /** The counters (created, destroyed, rejected cookies, store errors, misroutes, …). */
  readonly metrics: Metrics
  /** Releases the timers of the default MemoryStore; a store you passed in is yours to close. */
  close(): Promise<void>
}

/**
 * Express middleware that gives every request `req.session`, stored in a Tether store and tied to
 * a signed cookie that names the worker owning the session. The session is committed before the
 * response head is sent (whatever sends it: `res.json`, `res.redirect`, streams, `res.end`), and a
 * store failure answers 503 with `Retry-After` instead of losing the write behind a 200.
 *
 * Options are validated here, once: bad ones throw a TypeError naming the option.
 *
 * @example
 * import express from 'express'
 * import { stickySession } from '@tether/express'
 *
 * const app = express()
 * app.use(stickySession({ secret: process.env.SESSION_SECRET! }))
 * app.get('/count', (req, res) => {
 *   const count = (req.session.get('count') ?? 0) + 1
 *   req.session.set('count', count)
 *   res.json({ count })
 * })
 */
export function stickySession(options: StickySessionOptions): StickySessionMiddleware {
  const { retryAfter } = resolveAdapterOptions(options)
  const manager = new SessionManager(options)

  const middleware = function stickySession(req: Request, res: Response, next: NextFunction): void {
    // Mounted twice (app and router): the first one owns the request.
    if (holdOwner(req) !== undefined) {
      next()
      return
    }
    // An in-process store (the default MemoryStore) opens the session at once; others wait.
    let ctx: SessionContext | undefined
    try {
      ctx = manager.openNow(req.headers.cookie)
    } catch (error) {
      openFailed(error, retryAfter, res, next)
      return
    }
    if (ctx === undefined) {
      void attach(manager, retryAfter, req, res, next)
      return
    }
    bind(manager, retryAfter, ctx, req, res)
    next()
  }
  return Object.assign(middleware, {
    manager,
    metrics: manager.metrics,
    close: () => manager.close(),
  })
}

/** Opens the request's session and ties it to the response. Module-level: no closures per request. */
async function attach(
  manager: SessionManager,
  retryAfter: number,
  req: Request,
  res: Response,
  next: NextFunction,
): Promise<void> {
  let ctx: SessionContext
  try {
    ctx = await manager.open(req.headers.cookie)
  } catch (error) {
    openFailed(error, retryAfter, res, next)
    return
  }
  bind(manager, retryAfter, ctx, req, res)
  next()
}

function openFailed(error: unknown, retryAfter: number, res: Response, next: NextFunction): void {
  if (isTetherError(error, 'ERR_TETHER_STORE_UNAVAILABLE')) sendFailure(res, 503, retryAfter)
  else next(error)
}

/** Gives the request its session and makes the response commit it before its head goes out. */
function bind(
  manager: SessionManager,
  retryAfter: number,
  ctx: SessionContext,
  req: Request,
  res: Response,
): void {
  if (isMisrouted(ctx.route, manager.route, req.socket)) {
    // A pooled keep-alive connection brought another worker's session here: close it so the
    // client's next request is routed afresh to the owner.
    res.setHeader('Connection', 'close')
    manager.metrics.increment('misroutes')
    ctx.markMisrouted()
  }
  const binding = new ResponseBinding(ctx, req, res, retryAfter)
  commitBeforeHead(req, res, binding)
  exposeSession(req, ctx.session)
  // Released on the response's 'close' (see commitBeforeHead), which a request whose client is
  // already gone will not see again.
  if (req.socket.destroyed) binding.release()
}

/**
 * One request's session tied to its response: commits before the head goes out (through
 * commitBeforeHead), answers a failed commit, and releases the session once, when the response is
 * over — or, if a commit is still running then, when that commit settles.
 */
class ResponseBinding {
  #committing = false
  #over = false

  constructor(
    readonly ctx: SessionContext,
    readonly req: Request,
    readonly res: Response,
    readonly retryAfter: number,
  ) {}

  get session(): Session {
    return this.ctx.session
  }

  release(): void {
    this.#over = true
    if (!this.#committing) this.ctx.release()
  }

  commitNow(): string | undefined | typeof WAIT {
    return this.ctx.commitNow(this)
  }

  async commit(): Promise<string | undefined> {
    this.#committing = true
    try {
      return await this.ctx.commit(this)
    } finally {
      this.#committing = false
      if (this.#over) this.ctx.release()
    }
  }

  fail(error: unknown): void {
    const unavailable = isTetherError(error, 'ERR_TETHER_STORE_UNAVAILABLE')
    sendFailure(this.res, unavailable ? 503 : 500, unavailable ? this.retryAfter : undefined)
  }

  /**
   * Asked by the core only when a cookie is sent: `req.secure` consults Express's trust-proxy
   * setting. (The binding itself is what the core asks: no closure per request.)
   */
  get secure(): boolean {
    return this.req.secure
  }
}

/** Replaces whatever the app had prepared with a small JSON error. */
function sendFailure(res: ServerResponse, status: 500 | 503, retryAfter: number | undefined): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  const closeAfter = res.getHeader('connection') === 'close'
  for (const name of res.getHeaderNames()) res.removeHeader(name)
  if (closeAfter) res.setHeader('Connection', 'close')
  const body = status === 503 ? STORE_UNAVAILABLE_BODY : JSON.stringify({ error: 'internal server error' })
  res.statusCode = status
  if (retryAfter !== undefined) res.setHeader('Retry-After', String(retryAfter))
  res.setHeader('Content-Type', 'application/json; charset=utf-8')
  res.setHeader('Content-Length', Buffer.byteLength(body))
  res.setHeader('Cache-Control', 'no-store')
  res.end(body)
}
