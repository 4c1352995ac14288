import { type Keyring, parseCookieValue, verifyCookieValue } from '@tether/core'
import type { Decision, RoutingInput, Strategy } from './strategy.js'

/**
 * Routes on a session value carried in the query string (`?<name>=<token>.<route>.<mac>`), for
 * clients that cannot keep cookies. The value has the cookie's format and is checked the same way.
 */
export function urlParamStrategy(param: string, keyring: Keyring | undefined): Strategy {
  const prefix = `${param}=`
  return function urlParam(input: RoutingInput): Decision | undefined {
    const target = input.head?.target
    if (target === undefined) return undefined
    const query = target.indexOf('?')
    if (query < 0) return undefined
    const hash = target.indexOf('#', query)
    const search = target.slice(query + 1, hash < 0 ? undefined : hash)
    for (const pair of search.split('&')) {
      if (!pair.startsWith(prefix)) continue
      let value: string
      try {
        value = decodeURIComponent(pair.slice(prefix.length))
      } catch {
        continue
      }
      const parts = keyring === undefined ? parseCookieValue(value) : verifyCookieValue(value, keyring)
      if (parts !== undefined) return { route: parts.route }
    }
    return undefined
  }
}
