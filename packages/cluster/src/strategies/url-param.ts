import { type Keyring, parseCookieValue, verifyCookieValue } from '@tether/core/adapter'
import { routeOfSocketIoId } from '../socket-io-id.js'
import type { Decision, RoutingInput, Strategy } from './strategy.js'

/** The decoded values of query parameter `name` in a request target, in order. */
export function* queryValues(target: string | undefined, name: string): Generator<string> {
  if (target === undefined) return
  const query = target.indexOf('?')
  if (query < 0) return
  const hash = target.indexOf('#', query)
  const search = target.slice(query + 1, hash < 0 ? undefined : hash)
  const prefix = `${name}=`
  for (const pair of search.split('&')) {
    if (!pair.startsWith(prefix)) continue
    try {
      yield decodeURIComponent(pair.slice(prefix.length))
    } catch {
      // Not valid percent-encoding: not a value of ours.
    }
  }
}

/**
 * Routes on a session value carried in the query string (`?<name>=<token>.<route>.<mac>`), for
 * clients that cannot keep cookies. The value has the cookie's format and is checked the same way.
 */
export function urlParamStrategy(param: string, keyring: Keyring | undefined): Strategy {
  return function urlParam(input: RoutingInput): Decision | undefined {
    for (const value of queryValues(input.head?.target, param)) {
      const parts = keyring === undefined ? parseCookieValue(value) : verifyCookieValue(value, keyring)
      if (parts !== undefined) return { route: parts.route }
    }
    return undefined
  }
}

/**
 * Routes engine.io's polling and upgrade requests (`?sid=<id>`) on the route in an id made by
 * socketIoId(); other ids (engine.io's own) are no opinion. With a keyring the id's MAC is checked.
 */
export function engineIoStrategy(keyring: Keyring | undefined): Strategy {
  return function engineIo(input: RoutingInput): Decision | undefined {
    const target = input.head?.target
    if (target === undefined || !target.includes('sid=')) return undefined
    for (const value of queryValues(target, 'sid')) {
      const route = routeOfSocketIoId(value, keyring)
      if (route !== undefined) return { route }
    }
    return undefined
  }
}
