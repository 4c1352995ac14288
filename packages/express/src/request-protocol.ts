import { IncomingMessage } from 'node:http'
import type { Request } from 'express'

/**
 * Whether a request came over TLS, as Express's `req.secure` says, for less. Express's getter asks
 * the app's trust-proxy function (through `req.protocol`) whether to believe `X-Forwarded-Proto`;
 * without that header the answer is the socket's either way. The core asks this on every
 * request that brings a session cookie where the `__Host-` prefix applies (the default), so the
 * header-less case is answered here from the socket, unless the app replaced `secure` or
 * `protocol` with getters of its own.
 */
export function isSecureRequest(req: Request): boolean {
  if (req.headers['x-forwarded-proto'] === undefined && usesExpressGetters(req)) {
    return (req.socket as { encrypted?: boolean } | null)?.encrypted === true
  }
  return req.secure
}

/** Request prototypes already looked at: whether `secure` and `protocol` are Express's own there. */
const expressGetters = new WeakMap<object, boolean>()

function usesExpressGetters(req: Request): boolean {
  if (Object.hasOwn(req, 'secure') || Object.hasOwn(req, 'protocol')) return false
  const proto = Object.getPrototypeOf(req) as object | null
  if (proto === null) return false
  let known = expressGetters.get(proto)
  if (known === undefined) {
    known = definedOnlyByExpress(proto)
    expressGetters.set(proto, known)
  }
  return known
}

/**
 * True when `secure` and `protocol` are found on the prototype right above IncomingMessage's
 * (Express's `request`) and on nothing nearer, such as an app's `app.request`.
 */
function definedOnlyByExpress(proto: object): boolean {
  for (let o: object | null = proto; o !== null; o = Object.getPrototypeOf(o) as object | null) {
    const base = Object.getPrototypeOf(o) === IncomingMessage.prototype
    for (const name of ['secure', 'protocol']) {
      const own = Object.getOwnPropertyDescriptor(o, name)
      if (own !== undefined) return base && typeof own.get === 'function'
    }
    if (base) return false
  }
  return false
}
