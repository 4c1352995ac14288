export {
  type AdapterOptions,
  type ResolvedAdapterOptions,
  resolveAdapterOptions,
} from './adapter/adapter-options.js'
export { STORE_UNAVAILABLE_BODY } from './adapter/failure-replies.js'
export {
  type Denial,
  type DenialOptions,
  type RequireSessionOptions,
  resolveGuard,
} from './adapter/guards.js'
export {
  type CookieOptions,
  type ResolvedCookieOptions,
  readCookieValues,
  resolveCookieOptions,
  serializeSetCookie,
} from './cookie/cookie-header.js'
export {
  type CookieParts,
  type CookieRejection,
  checkCookieValue,
  issueCookieValue,
  MAC_LENGTH,
  parseCookieValue,
  signCookieValue,
  type VerifiedCookie,
  verifyCookieValue,
} from './cookie/cookie-value.js'
export { type KnownCookie, VerifiedCookies } from './cookie/verified-cookies.js'
export { decrypt, encrypt } from './crypto/cipher.js'
export { CORRUPT, encryptedCodec, type FieldCodec, plainCodec } from './crypto/field-codec.js'
export { type DerivedKeys, Keyring, MIN_SECRET_LENGTH, type Secret } from './crypto/keyring.js'
export { newToken, storeIdOf, TOKEN_LENGTH } from './crypto/session-id.js'
export { isTetherError, storeUnavailable, TetherError, type TetherErrorCode } from './errors.js'
export type { FlushOutcome } from './flush.js'
export {
  type CounterName,
  Metrics,
  type MetricsCounters,
  type MetricsSnapshot,
  type PrometheusRegistry,
} from './metrics.js'
export type { TetherOptions } from './options.js'
export { type OpenField, PlaintextMemo } from './plaintext-memo.js'
export {
  CONNECTION_ROUTE,
  DEFAULT_ROUTE,
  isMisrouted,
  isValidRoute,
  ROUTE_ENV,
  ROUTE_PATTERN,
  resolveRoute,
} from './route.js'
export type { RegenerateOptions, Session, SessionData, SessionKey, SessionValue } from './session.js'
export { type SecureRequest, SessionContext } from './session-context.js'
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
export type { SessionStore, SessionWrite, StoredSession } from './stores/store.js'
export { optionError, warnOnce } from './validate.js'
export { WAIT } from './wait.js'
