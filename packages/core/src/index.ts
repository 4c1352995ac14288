// @tether/core: what an app needs. The stores, the session manager (for apps that drive it
// directly), errors, metrics, the express-session store adapters, the key ring, and the types of
// options and sessions. The kit for adapters and the cluster is `@tether/core/adapter`.

export type { CookieOptions, ResolvedCookieOptions } from './cookie/cookie-header.js'
export { type DerivedKeys, Keyring, type Secret } from './crypto/keyring.js'
export { isTetherError, TetherError, type TetherErrorCode } from './errors.js'
export {
  type CounterName,
  Metrics,
  type MetricsCounters,
  type MetricsSnapshot,
  type PrometheusRegistry,
} from './metrics.js'
export type { TetherOptions } from './options.js'
export type { RegenerateOptions, Session, SessionData, SessionKey, SessionValue } from './session.js'
export type { SecureRequest, SessionContext } from './session-context.js'
export { SessionManager } from './session-manager.js'
export {
  type ExpressSessionModule,
  type ExpressSessionStoreLike,
  type FromExpressSessionStoreOptions,
  fromExpressSessionStore,
  toExpressSessionStore,
} from './stores/express-session-adapter.js'
export { HybridStore, type HybridStoreOptions } from './stores/hybrid.js'
export { MemoryStore, type MemoryStoreOptions } from './stores/memory.js'
export {
  type RedisRecord,
  RedisStore,
  type RedisStoreOptions,
  type RedisWriteOutcome,
  type RedisWriteResult,
} from './stores/redis.js'
export type {
  IoRedisLike,
  NodeRedisClusterLike,
  NodeRedisLike,
  RedisClientLike,
} from './stores/redis-client.js'
export type { SessionStore, SessionWrite, StoredSession, WriteConflict } from './stores/store.js'
export { WAIT } from './wait.js'
