// @tether/core/adapter: the kit for integrators, the code that sits between a framework (or the
// cluster's router) and the core. What every adapter does is here once: its options beyond the
// core's, the shared per-request state machine, the misroute check, the failure replies and the
// guard refusals; an adapter only translates them into its framework's calls. Beside them, the
// cookie and route primitives that @tether/cluster routes on. Apps import `@tether/core`.

export {
  type AdapterOptions,
  type ResolvedAdapterOptions,
  resolveAdapterOptions,
} from './adapter/adapter-options.js'
export { FailureReplies, type FailureReply, STORE_UNAVAILABLE_BODY } from './adapter/failure-replies.js'
export {
  type Denial,
  type DenialOptions,
  type RequireSessionOptions,
  resolveGuard,
} from './adapter/guards.js'
export { detectMisroute, SessionBinding } from './adapter/session-binding.js'
export { readCookieValues, sessionCookieNames } from './cookie/cookie-header.js'
export {
  type CookieParts,
  type CookieRejection,
  issueCookieValue,
  parseCookieValue,
  type VerifiedCookie,
  verifyCookieValue,
} from './cookie/cookie-value.js'
export { type DerivedKeys, Keyring, type Secret } from './crypto/keyring.js'
export { CONNECTION_ROUTE, isMisrouted, ROUTE_ENV, ROUTE_PATTERN } from './route.js'
export type { SecureRequest, SessionContext } from './session-context.js'
export { localSessionCount } from './stores/local-stores.js'
export {
  installReplicationHub,
  type ReplicaFeed,
  type ReplicaOp,
  type ReplicaSource,
  type ReplicationHub,
} from './stores/replication.js'
export { endUserSessionsHere, installUserSessionsBroadcast } from './user-sessions.js'
export { type EveryOptionNamed, optionError, rejectUnknownOptions } from './validate.js'
export { WAIT } from './wait.js'
