import {
  type Keyring,
  parseCookieValue,
  readCookieValues,
  sessionCookieNames,
  verifyCookieValue,
} from '@tether/core/adapter'
import type { Decision, RoutingInput, Strategy } from './strategy.js'

/**
 * Routes on the route part of the session cookie, read under the names the adapters use
 * (`__Host-<cookieName>` first, then `<cookieName>`). With a keyring the cookie's MAC is checked
 * first, so a forged cookie cannot steer traffic to a worker of the attacker's choice, and every
 * value is tried until one verifies, so planted cookies cannot hide the real one; without one
 * only the cookie's shape is checked (cheaper, and the worker verifies it anyway).
 */
export function cookieStrategy(cookieName: string, keyring: Keyring | undefined): Strategy {
  const names = sessionCookieNames(cookieName)
  return function cookie(input: RoutingInput): Decision | undefined {
    const header = input.head?.headers.get('cookie')
    if (header === undefined) return undefined
    for (const value of readCookieValues(header, names)) {
      const parts = keyring === undefined ? parseCookieValue(value) : verifyCookieValue(value, keyring)
      if (parts !== undefined) return { route: parts.route }
    }
    return undefined
  }
}
