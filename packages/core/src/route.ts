import { optionError } from './validate.js'

/**
 * The environment variable through which @tether/cluster tells each worker its route (the stable
 * name of its slot, kept by a replacement worker after a restart).
 */
export const ROUTE_ENV = 'TETHER_ROUTE'

/** The route used when the process is not part of a Tether cluster. */
export const DEFAULT_ROUTE = 'solo'

/** Routes are short and cookie/URL-safe: they travel in every cookie and may appear in URLs. */
export const ROUTE_PATTERN = /^[A-Za-z0-9_-]{1,32}$/

export function isValidRoute(route: string): boolean {
  return ROUTE_PATTERN.test(route)
}

/** The route this process stamps into the cookies it issues: the option, the environment, or the default. */
export function resolveRoute(option: unknown): string {
  const route = option ?? process.env[ROUTE_ENV] ?? DEFAULT_ROUTE
  if (typeof route !== 'string' || !isValidRoute(route)) {
    const name = option === undefined ? `the ${ROUTE_ENV} environment variable` : 'route'
    throw optionError(name, '1 to 32 characters of A-Z, a-z, 0-9, "_" or "-"', route)
  }
  return route
}

/**
 * Set by @tether/cluster on a socket it handed to a worker for sessions of another route (their
 * owner was down, so the ring picked this worker): requests of that route are expected there.
 */
export const CONNECTION_ROUTE: unique symbol = Symbol.for('tether.connectionRoute')

/**
 * True when a request on `socket` carries a session owned by another worker of this cluster, as
 * happens when a proxy pools keep-alive connections across clients. Adapters answer it with
 * `Connection: close` so the client's next request is routed afresh. Outside a cluster (no
 * TETHER_ROUTE in the environment) nothing is ever misrouted.
 */
export function isMisrouted(
  sessionRoute: string,
  ownRoute: string,
  socket: object | null | undefined,
): boolean {
  if (sessionRoute === ownRoute || process.env[ROUTE_ENV] === undefined) return false
  return (socket as { [CONNECTION_ROUTE]?: string } | null | undefined)?.[CONNECTION_ROUTE] !== sessionRoute
}
