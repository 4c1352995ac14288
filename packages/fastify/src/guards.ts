import { optionError, type Session } from '@tether/core'
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'

/** Decides whether a request's session may go on; only `true` lets it through. */
export type SessionPredicate = (session: Session, request: FastifyRequest) => boolean | Promise<boolean>

/** One refusal: its status and body. */
export interface DenialOptions {
  /** HTTP status, 400 to 599. */
  status?: number
  /** A string is sent as text/plain; anything else as JSON. */
  body?: unknown
}

/** Options of `requireSession()`. */
export interface RequireSessionOptions {
  /**
   * Answer when the request has no valid session (none, expired, destroyed, or a forged cookie).
   * @default { status: 401, body: { error: 'session required' } }
   */
  unauthenticated?: DenialOptions
  /**
   * Answer when the predicate does not return true.
   * @default { status: 403, body: { error: 'forbidden' } }
   */
  forbidden?: DenialOptions
}

interface Denial {
  readonly status: number
  readonly body: string
  readonly type: string
}

/**
 * A route guard for `preHandler`: 401 when the request has no valid session, 403 when `predicate`
 * (sync or async) does not return true. Register the plugin before the routes that use it.
 *
 * @example
 * app.get('/cart', { preHandler: requireSession() }, async (request) => request.session.get('cart') ?? [])
 * app.get('/admin', { preHandler: requireSession((s) => s.get('user')?.role === 'admin') }, adminPage)
 */
export function requireSession(
  predicate?: SessionPredicate,
  options: RequireSessionOptions = {},
): preHandlerAsyncHookHandler {
  if (predicate !== undefined && typeof predicate !== 'function') {
    throw optionError('predicate', 'a function (session, request) => boolean | Promise<boolean>', predicate)
  }
  if (typeof options !== 'object' || options === null) throw optionError('options', 'an object', options)
  const unauthenticated = denial('unauthenticated', options.unauthenticated, 401, {
    error: 'session required',
  })
  const forbidden = denial('forbidden', options.forbidden, 403, { error: 'forbidden' })

  return async function requireSession(request: FastifyRequest, reply: FastifyReply) {
    // Read through unknown: another plugin's declaration of request.session (@fastify/session) may
    // be in the same type-check program.
    const session = (request as unknown as { session: Session | null }).session
    if (session === null) {
      throw new Error('requireSession() needs the @tether/fastify plugin to be registered first')
    }
    if (session.isNew) return deny(reply, unauthenticated)
    if (predicate === undefined) return
    if ((await predicate(session, request)) !== true) return deny(reply, forbidden)
  }
}

function deny(reply: FastifyReply, { status, body, type }: Denial): FastifyReply {
  return reply.code(status).type(type).send(body)
}

function denial(name: string, given: DenialOptions | undefined, status: number, body: unknown): Denial {
  const o = given ?? {}
  if (typeof o !== 'object' || o === null) throw optionError(name, 'an object { status?, body? }', o)
  const code = o.status ?? status
  if (typeof code !== 'number' || !Number.isInteger(code) || code < 400 || code > 599) {
    throw optionError(`${name}.status`, 'an HTTP error status from 400 to 599', o.status)
  }
  const value = o.body === undefined ? body : o.body
  if (typeof value === 'string') return { status: code, body: value, type: 'text/plain; charset=utf-8' }
  const json = JSON.stringify(value)
  if (json === undefined) throw optionError(`${name}.body`, 'a string or a JSON-serialisable value', value)
  return { status: code, body: json, type: 'application/json; charset=utf-8' }
}
