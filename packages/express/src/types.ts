import type { Session } from '@tether/core'

declare module 'express-serve-static-core' {
  interface Request {
    /**
     * This request's session, set by `stickySession()`. Type its values by augmenting
     * `SessionData` (from `@tether/express` or `@tether/core`).
     */
    session: Session
  }
}

export type { Session } from '@tether/core'

/**
 * The shape of session data: augment it here (`declare module '@tether/express'`) or in `@tether/core`
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
