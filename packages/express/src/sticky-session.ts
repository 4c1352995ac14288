import type { ServerResponse } from 'node:http'
import { type Metrics, SessionManager } from '@tether/core'
import {
  detectMisroute,
  FailureReplies,
  type FailureReply,
  SessionBinding,
  type SessionContext,
} from '@tether/core/adapter'
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import { commitBeforeHead, holdOwner } from './commit-before-head.js'
import { resolveAdapterOptions, type StickySessionOptions } from './options.js'
import { isSecureRequest } from './request-protocol.js'
import { exposeSession } from './request-session.js'

/** The middleware returned by `stickySession()`, with the engine behind it. */
export interface StickySessionMiddleware extends RequestHandler {
  /** The session manager: store, cookie settings, route. */
  readonly manager: SessionManager
  /** The counters (created, destroyed, rejected cookies, store errors, misroutes, …). */
  readonly metrics: Metrics
  /**
   * Ends every session of a user ("log out everywhere"; needs the `owner` option); resolves with
   * how many there were. On a Tether cluster with MemoryStore it reaches every worker.
   */
  destroyAll(userId: string): Promise<number>
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
  const replies = new FailureReplies(resolveAdapterOptions(options).retryAfter)
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
      ctx = manager.openNow(req.headers.cookie, req)
    } catch (error) {
      openFailed(error, replies, res, next)
      return
    }
    if (ctx === undefined) {
      void attach(manager, replies, req, res, next)
      return
    }
    bind(manager, replies, ctx, req, res)
    next()
  }
  return Object.assign(middleware, {
    manager,
    metrics: manager.metrics,
    close: () => manager.close(),
    destroyAll: (userId: string) => manager.destroyAll(userId),
  })
}

/** Opens the request's session and ties it to the response. Module-level: no closures per request. */
async function attach(
  manager: SessionManager,
  replies: FailureReplies,
  req: Request,
  res: Response,
  next: NextFunction,
): Promise<void> {
  let ctx: SessionContext
  try {
    ctx = await manager.open(req.headers.cookie, req)
  } catch (error) {
    openFailed(error, replies, res, next)
    return
  }
  bind(manager, replies, ctx, req, res)
  next()
}

/** A failed open: the 503 when the store is down (the request ends here), else Express's error path. */
function openFailed(error: unknown, replies: FailureReplies, res: Response, next: NextFunction): void {
  const reply = replies.afterOpen(error)
  if (reply !== undefined) sendFailure(res, reply)
  else next(error)
}

/** Gives the request its session and makes the response commit it before its head goes out. */
function bind(
  manager: SessionManager,
  replies: FailureReplies,
  ctx: SessionContext,
  req: Request,
  res: Response,
): void {
  if (detectMisroute(manager, ctx, req.socket)) res.setHeader('Connection', 'close')
  const binding = new ResponseBinding(ctx, req, res, replies)
  commitBeforeHead(req, res, binding)
  exposeSession(req, ctx.session)
  // Released on the response's 'close' (see commitBeforeHead), which a request whose client is
  // already gone will not see again.
  if (req.socket.destroyed) binding.release()
}

/**
 * The shared binding (commit before the head, release once) on an Express response: it is the
 * response's hold owner (see commitBeforeHead) and answers a failed commit in Express's terms.
 */
class ResponseBinding extends SessionBinding {
  constructor(
    ctx: SessionContext,
    readonly req: Request,
    readonly res: Response,
    readonly replies: FailureReplies,
  ) {
    super(ctx)
  }

  fail(error: unknown): void {
    sendFailure(this.res, this.replies.afterCommit(error))
  }

  /** To Express's error handling, as if the handler had called `next(error)`. */
  replayFailed(error: unknown): void {
    if (typeof this.req.next === 'function') this.req.next(error)
    else this.res.destroy(error instanceof Error ? error : undefined)
  }

  /** `req.secure`, which consults Express's trust-proxy setting (see isSecureRequest). */
  get secure(): boolean {
    return isSecureRequest(this.req)
  }
}

/** Replaces whatever the app had prepared with the failure reply. */
function sendFailure(res: ServerResponse, reply: FailureReply): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  const closeAfter = res.getHeader('connection') === 'close'
  for (const name of res.getHeaderNames()) res.removeHeader(name)
  if (closeAfter) res.setHeader('Connection', 'close')
  res.statusCode = reply.status
  for (const [name, value] of reply.headers) res.setHeader(name, value)
  res.setHeader('Content-Length', Buffer.byteLength(reply.body))
  // Express has always sent its 500 as no-store too (the 503 is in any case).
  res.setHeader('Cache-Control', 'no-store')
  res.end(reply.body)
}
