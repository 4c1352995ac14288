// Drives a SessionManager the way an adapter does (open, change, commit, release), keeping the
// cookie like a browser, so Redis tests can run whole requests without an HTTP server.
import type { Session, SessionManager } from '@tether/core'

/** One browser: the cookie it holds and a way to send a request through a manager. */
export class SessionBrowser {
  cookie: string | undefined

  constructor(readonly manager: SessionManager) {}

  /** Runs one request: `handler` sees the session; the commit's Set-Cookie updates the cookie. */
  async request<T>(handler: (session: Session) => T | Promise<T>, manager = this.manager): Promise<T> {
    const ctx = await manager.open(this.cookie)
    try {
      const result = await handler(ctx.session)
      const header = await ctx.commit(false)
      if (header !== undefined) {
        const pair = header.split(';')[0]!
        this.cookie = pair.endsWith('=') ? undefined : pair
      }
      return result
    } finally {
      ctx.release()
    }
  }
}
