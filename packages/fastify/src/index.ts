import { tether } from './plugin.js'

export {
  HybridStore,
  type HybridStoreOptions,
  MemoryStore,
  type MemoryStoreOptions,
  Metrics,
  RedisStore,
  type RedisStoreOptions,
  type SessionStore,
  type TetherOptions,
} from '@tether/core'
export {
  type DenialOptions,
  type RequireSessionOptions,
  requireSession,
  type SessionPredicate,
} from './guards.js'
export { STORE_UNAVAILABLE_BODY, type TetherPluginOptions } from './options.js'
export { type TetherDecoration, tether } from './plugin.js'
export type { Session, SessionData } from './types.js'
export default tether
