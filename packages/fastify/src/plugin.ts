import { type Metrics, type Session, SessionManager } from '@tether/core'
import {
  detectMisroute,
  FailureReplies,
  type FailureReply,
  SessionBinding,
  type SessionContext,
  WAIT,
} from '@tether/core/adapter'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { resolveAdapterOptions, type TetherPluginOptions } from './options.js'

/** What the plugin decorates the Fastify instance with, as `fastify.tether`. */
export interface TetherDecoration {
  /** The session manager: store, cookie settings, route. */
  readonly manager: SessionManager
  /** The counters (created, destroyed, rejected cookies, store errors, misroutes, …). */
  readonly metrics: Metrics
  /**
   * Ends every session of a user ("log out everywhere"; needs the `owner` option); resolves with
   * how many there were. On a Tether cluster with MemoryStore it reaches every worker.
   */
  destroyAll(userId: string): Promise<number>
}

const CONTEXT = Symbol('tether.context')

/** The shared binding (commit before the head, release once), kept on the Fastify request. */
class RequestSession extends SessionBinding {
  constructor(
    ctx: SessionContext,
    readonly request: FastifyRequest,
  ) {
    super(ctx)
  }

  /** Fastify's protocol honours trustProxy. */
  get secure(): boolean {
    return this.request.protocol === 'https'
  }
}

interface RequestWithContext {
  [CONTEXT]: RequestSession | null
}

async function tetherPlugin(fastify: FastifyInstance, options: TetherPluginOptions): Promise<void> {
  const replies = new FailureReplies(resolveAdapterOptions(options).retryAfter)
  const manager = new SessionManager(options)
  const decoration: TetherDecoration = {
    manager,
    metrics: manager.metrics,
    destroyAll: (userId) => manager.destroyAll(userId),
  }

  fastify.decorate('tether', decoration)
  // Declared up front so every request object has the same shape.
  fastify.decorateRequest('session', null as never)
  fastify.decorateRequest(CONTEXT, null)

  /** Gives the request its session (and answers a misrouted one with Connection: close). */
  const bind = (request: FastifyRequest, reply: FastifyReply, ctx: SessionContext): void => {
    const held = new RequestSession(ctx, request)
    ;(request as unknown as RequestWithContext)[CONTEXT] = held
    ;(request as unknown as { session: Session }).session = ctx.session
    // The raw response's 'close' comes once the response is sent or the client went away: one
    // listener releases the session in both cases, where onResponse plus onRequestAbort hooks cost
    // Fastify about a kilobyte of allocations per request (measured). A response already closed
    // (the client left while the session loaded) will not emit it again.
    const raw = reply.raw
    raw.on('close', () => held.release())
    if (raw.destroyed || request.raw.socket?.destroyed === true) held.release()
    if (detectMisroute(manager, ctx, request.raw.socket)) reply.header('connection', 'close')
  }
  /** A failed open: 503 when the store is down (the request ends here), else Fastify's error path. */
  const openFailed = (reply: FastifyReply, error: unknown, done: (error?: Error) => void): void => {
    const failure = replies.afterOpen(error)
    if (failure !== undefined) applyFailure(reply, failure).send(failure.body)
    else done(error as Error)
  }

  // Callback-style hooks: with an in-process store (the default MemoryStore) both run at once, with
  // no promise per request; other stores take the asynchronous path.
  fastify.addHook('onRequest', function openSession(request, reply, done) {
    let ctx: SessionContext | undefined
    try {
      ctx = manager.openNow(request.headers.cookie, request)
    } catch (error) {
      openFailed(reply, error, done)
      return
    }
    if (ctx !== undefined) {
      bind(request, reply, ctx)
      done()
      return
    }
    manager.open(request.headers.cookie, request).then(
      (opened) => {
        bind(request, reply, opened)
        done()
      },
      (error: unknown) => openFailed(reply, error, done),
    )
  })

  fastify.addHook('onSend', function commitSession(request, reply, payload, done) {
    const held = (request as unknown as RequestWithContext)[CONTEXT]
    if (held === null || held.ctx.committed) {
      done(null, payload)
      return
    }
    let setCookie: string | undefined | typeof WAIT
    try {
      setCookie = held.commitNow()
    } catch (error) {
      done(null, replaceWithFailure(reply, payload, replies.afterCommit(error)))
      return
    }
    if (setCookie !== WAIT) {
      if (setCookie !== undefined) addSetCookie(reply, setCookie)
      done(null, payload)
      return
    }
    held.commit().then(
      (header) => {
        if (header !== undefined) addSetCookie(reply, header)
        sendLater(reply, done, payload)
      },
      (error: unknown) =>
        sendLater(reply, done, replaceWithFailure(reply, payload, replies.afterCommit(error))),
    )
  })

  fastify.addHook('onClose', async function closeSessions() {
    await manager.close()
  })
}

/**
 * Adds Tether's cookie after the Set-Cookie lines the app set, which go out as they would without
 * it. `reply.header()` alone would replace an app's value that is empty, a number or a boolean,
 * and hide one set on the raw response. When the head goes out, the reply's own Set-Cookie
 * replaces the raw response's (which survives only while the reply has none, or when the reply's
 * is refused and Fastify answers its error without it): the cookie joins whichever is sent.
 */
function addSetCookie(reply: FastifyReply, cookie: string): void {
  const raw = reply.raw
  // A head the app wrote itself on the raw response is gone already: nothing to keep in order.
  const rawValue = raw.headersSent ? undefined : raw.getHeader('set-cookie')
  if (rawValue !== undefined) raw.removeHeader('set-cookie')
  // With the raw header out of the way, what the reply itself holds.
  const own = reply.getHeader('set-cookie')
  if (own === undefined) {
    if (rawValue === undefined) reply.header('set-cookie', cookie)
    else raw.setHeader('set-cookie', [...linesOf(rawValue), cookie] as string[])
    return
  }
  // Fastify appends to a non-empty string or an array, in place; other values are replaced.
  if (Array.isArray(own) || (typeof own === 'string' && own !== '')) reply.header('set-cookie', cookie)
  else {
    reply.removeHeader('set-cookie')
    reply.header('set-cookie', [own, cookie])
  }
  if (rawValue !== undefined) raw.setHeader('set-cookie', rawValue)
}

/** A header value as the list of its lines (Node sends each element of an array as its own). */
function linesOf(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [value]
}

/**
 * Ends onSend after an asynchronous commit. What sending throws (a header value Node refuses) is
 * caught by Fastify only while onSend runs in the handler's own turn; from here it would be an
 * unhandled rejection (the process exits) and a reply that never ends. It becomes Fastify's error
 * reply instead, as it would have without Tether.
 */
function sendLater(
  reply: FastifyReply,
  done: (error: null, payload: unknown) => void,
  payload: unknown,
): void {
  try {
    done(null, payload)
  } catch (error) {
    try {
      reply.send(error)
    } catch {
      reply.raw.destroy(error as Error)
    }
  }
}

/** Puts a failure reply's status and headers on the reply; the caller sends its body. */
function applyFailure(reply: FastifyReply, failure: FailureReply): FastifyReply {
  reply.code(failure.status)
  for (const [name, value] of failure.headers) reply.header(name, value)
  return reply
}

/** Turns the reply into the failure reply after a failed commit, dropping the app's payload. */
function replaceWithFailure(reply: FastifyReply, payload: unknown, failure: FailureReply): string {
  const stream = payload as { destroy?: () => void } | null
  if (typeof stream?.destroy === 'function') stream.destroy()
  const keepClose = reply.getHeader('connection') === 'close'
  reply.removeHeader('set-cookie')
  for (const name of Object.keys(reply.getHeaders())) reply.removeHeader(name)
  if (keepClose) reply.header('connection', 'close')
  applyFailure(reply, failure)
  return failure.body
}

/**
 * The Fastify plugin: `request.session` on every request, stored in a Tether store and tied to a
 * signed cookie that names the worker owning the session. The session is committed in `onSend`,
 * before the reply's head goes out, whatever the reply is (object, string, buffer, stream,
 * redirect, error); a store failure answers 503 with `Retry-After` instead of losing the write
 * behind a 200. Replies sent with `reply.hijack()` bypass `onSend` and so are not committed.
 *
 * Options are validated at `register` time: bad ones reject with a TypeError naming the option.
 *
 * @example
 * import Fastify from 'fastify'
 * import tether from '@tether/fastify'
 *
 * const app = Fastify()
 * await app.register(tether, { secret: process.env.SESSION_SECRET! })
 * app.get('/count', async (request) => {
 *   const count = (request.session.get('count') ?? 0) + 1
 *   request.session.set('count', count)
 *   return { count }
 * })
 */
export const tether = fp(tetherPlugin, { fastify: '5.x', name: '@tether/fastify' })
