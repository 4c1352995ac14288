import type { Session } from '@tether/core'
import { type Denial, type RequireSessionOptions, resolveGuard } from '@tether/core/adapter'
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'

export type { DenialOptions, RequireSessionOptions } from '@tether/core/adapter'

/** Decides whether a request's session may go on; only `true` lets it through. */
export type SessionPredicate = (session: Session, request: FastifyRequest) => boolean | Promise<boolean>

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
  const { unauthenticated, forbidden } = resolveGuard(
    predicate,
    options,
    'a function (session, request) => boolean | Promise<boolean>',
  )

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
