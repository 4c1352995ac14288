import type { Session } from '@tether/core'
import type { TetherDecoration } from './plugin.js'

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * This request's session, set by the plugin's onRequest hook. Type its values by augmenting
     * `SessionData` (from `@tether/fastify` or `@tether/core`).
     */
    session: Session
  }
  interface FastifyInstance {
    /** The session manager and counters behind the plugin. */
    tether: TetherDecoration
  }
}

export type { Session } from '@tether/core'

/**
 * The shape of session data: augment it here (`declare module '@tether/fastify'`) or in `@tether/core`
 * to type `get` and `set`. What is declared here joins the core's SessionData.
 */
// biome-ignore lint/suspicious/noEmptyInterface: declared empty so that apps can augment it.
export interface SessionData {}
type AugmentedHere = SessionData

declare module '@tether/core' {
  // A re-export cannot be augmented: without this, keys declared on this package's SessionData
  // would type nothing.
  interface SessionData extends AugmentedHere {}
}
