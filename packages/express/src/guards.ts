import type { Session } from '@tether/core'
import { type Denial, type RequireSessionOptions, resolveGuard } from '@tether/core/adapter'
import type { NextFunction, Request, RequestHandler, Response } from 'express'

export type { DenialOptions, RequireSessionOptions } from '@tether/core/adapter'

/** Decides whether a request's session may go on; only `true` lets it through. */
export type SessionPredicate = (session: Session, req: Request) => boolean | Promise<boolean>

/**
 * A route guard: 401 when the request has no valid session, 403 when `predicate` (sync or async)
 * does not return true. Mount `stickySession()` before it.
 *
 * @example
 * app.get('/cart', requireSession(), (req, res) => res.json(req.session.get('cart') ?? []))
 * app.get('/admin', requireSession((s) => s.get('user')?.role === 'admin'), adminPage)
 */
export function requireSession(
  predicate?: SessionPredicate,
  options: RequireSessionOptions = {},
): RequestHandler {
  const { unauthenticated, forbidden } = resolveGuard(
    predicate,
    options,
    'a function (session, req) => boolean | Promise<boolean>',
  )

  return function requireSession(req: Request, res: Response, next: NextFunction): void {
    const session = req.session as Session | undefined
    if (session === undefined) {
      next(new Error('requireSession() needs stickySession() to be mounted before it'))
    } else if (session.isNew) {
      deny(res, unauthenticated)
    } else if (predicate === undefined) {
      next()
    } else {
      // A sync predicate answers in the same tick; a throw or a rejection goes to the error handler.
      new Promise<boolean>((resolve) => resolve(predicate(session, req))).then(
        (ok) => (ok === true ? next() : deny(res, forbidden)),
        next,
      )
    }
  }
}

function deny(res: Response, { status, body, type }: Denial): void {
  res.status(status).type(type).send(body)
}
