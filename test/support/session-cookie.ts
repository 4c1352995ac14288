// Reads the session cookie out of responses, the way a browser would keep it.

import type { Response } from 'supertest'
import { storeIdOf } from '../../packages/core/src/crypto/session-id.js'

/** The Set-Cookie lines of a response. */
export function setCookiesOf(res: Response): string[] {
  const header = res.headers['set-cookie'] as string[] | string | undefined
  if (header === undefined) return []
  return Array.isArray(header) ? header : [header]
}

/** The Set-Cookie line for cookie `name`, or undefined. */
export function setCookieFor(res: Response, name = 'tether.sid'): string | undefined {
  return setCookiesOf(res).find((line) => line.startsWith(`${name}=`))
}

/** `name=value` ready for a Cookie request header, from the response's Set-Cookie. */
export function cookieFrom(res: Response, name = 'tether.sid'): string {
  const line = setCookieFor(res, name)
  if (line === undefined)
    throw new Error(`expected a Set-Cookie for ${name}, got: ${setCookiesOf(res).join(' | ')}`)
  return line.split(';')[0]!
}

/** The bare value of `name=value`. */
export function cookieValue(cookie: string): string {
  return cookie.slice(cookie.indexOf('=') + 1)
}

/** The store id of the session behind a `tether.sid=<token>.<route>.<mac>` cookie. */
export function storeIdOfCookie(cookie: string): string {
  return storeIdOf(cookieValue(cookie).split('.')[0]!)
}
