import type { Session } from '@tether/core'
import type { TetherDecoration } from './plugin.js'

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * This request's session, set by the plugin's onRequest hook. Type its values by augmenting
     * `SessionData` from `@tether/core`.
     */
    session: Session
  }
  interface FastifyInstance {
    /** The session manager and counters behind the plugin. */
    tether: TetherDecoration
  }
}

export type { Session, SessionData } from '@tether/core'
