import type { Session } from '@tether/core'

declare module 'express-serve-static-core' {
  interface Request {
    /**
     * This request's session, set by `stickySession()`. Type its values by augmenting
     * `SessionData` from `@tether/core`.
     */
    session: Session
  }
}

export type { Session, SessionData } from '@tether/core'
