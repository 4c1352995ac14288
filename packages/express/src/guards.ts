import { optionError, type Session } from '@tether/core'
import type { NextFunction, Request, RequestHandler, Response } from 'express'

/** Decides whether a request's session may go on; only `true` lets it through. */
export type SessionPredicate = (session: Session, req: Request) => boolean | Promise<boolean>

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
  if (predicate !== undefined && typeof predicate !== 'function') {
    throw optionError('predicate', 'a function (session, req) => boolean | Promise<boolean>', predicate)
  }
  if (typeof options !== 'object' || options === null) throw optionError('options', 'an object', options)
  const unauthenticated = denial('unauthenticated', options.unauthenticated, 401, {
    error: 'session required',
  })
  const forbidden = denial('forbidden', options.forbidden, 403, { error: 'forbidden' })

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
