export {
  fromExpressSessionStore,
  HybridStore,
  type HybridStoreOptions,
  MemoryStore,
  type MemoryStoreOptions,
  Metrics,
  RedisStore,
  type RedisStoreOptions,
  type SessionStore,
  type TetherOptions,
  toExpressSessionStore,
} from '@tether/core'
export {
  type DenialOptions,
  type RequireSessionOptions,
  requireSession,
  type SessionPredicate,
} from './guards.js'
export { STORE_UNAVAILABLE_BODY, type StickySessionOptions } from './options.js'
export { type StickySessionMiddleware, stickySession } from './sticky-session.js'
export type { Session, SessionData } from './types.js'
