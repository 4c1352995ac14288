import { randomBytes } from 'node:crypto'
import { type Keyring, ROUTE_ENV } from '@tether/core/adapter'

// engine.io ids that name the worker that made them: `<random>.<route>.<mac>`, so the primary can
// send every request of an engine.io session (its polling requests and its WebSocket upgrade,
// which carry `sid=<id>` in the query) to that worker without keeping a table of sessions.

/** 16 bytes from the CSPRNG: 128 bits, 22 base64url characters. */
const RANDOM_BYTES = 16
const MAC_BYTES = 16
const ID_PATTERN = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{1,32})(?:\.([A-Za-z0-9_-]{22}))?$/
/** The MAC input starts with a label no cookie token can start with, so an id never verifies as a cookie. */
const macInput = (random: string, route: string) => `engine.io:${random}.${route}`

/** What a worker of the cluster signs its ids with; set by the cluster before the app is built. */
let identity: { readonly route: string; readonly keyring: Keyring | undefined } | undefined

/** @internal called by the cluster's worker side before it builds the app. */
export function setSocketIoIdentity(route: string | undefined, keyring: Keyring | undefined): void {
  identity = route === undefined ? undefined : { route, keyring }
}

/**
 * Makes engine.io session ids that carry this worker's route, so that the cluster's primary routes
 * every request of a socket.io connection to the worker holding it, without cookies and without a
 * table. URL-safe, 128 random bits, and signed with the cluster's `secret` when it has one (a forged
 * id cannot steer a connection). Outside a cluster it returns a plain random id.
 *
 * @example
 * import { Server } from 'socket.io'
 * import { socketIoId } from '@tether/cluster'
 *
 * const io = new Server(server)
 * io.engine.generateId = socketIoId
 */
export function socketIoId(): string {
  const random = randomBytes(RANDOM_BYTES).toString('base64url')
  const route = identity?.route ?? process.env[ROUTE_ENV]
  if (route === undefined) return random
  const keyring = identity?.keyring
  return keyring === undefined
    ? `${random}.${route}`
    : `${random}.${route}.${keyring.sign(macInput(random, route), MAC_BYTES)}`
}

/**
 * The route in an id made by socketIoId(), or undefined for anything else. With a keyring the id
 * must carry a MAC that verifies; without one only its shape is checked.
 */
export function routeOfSocketIoId(id: string, keyring: Keyring | undefined): string | undefined {
  if (id.length > 80) return undefined
  const match = ID_PATTERN.exec(id)
  if (match === null) return undefined
  const [, random, route, mac] = match as unknown as [string, string, string, string | undefined]
  if (keyring === undefined) return route
  if (mac === undefined || keyring.verify(macInput(random, route), mac, MAC_BYTES) < 0) return undefined
  return route
}
