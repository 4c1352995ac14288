// An Express app on express-session whose store is a Tether store (through toExpressSessionStore):
// the interop tests of core, express and redis drive the same two routes.
import { type SessionStore, toExpressSessionStore } from '@tether/core'
import express, { type Express } from 'express'
import session from 'express-session'

/** `GET /count` increments `n` in the session and answers `{ n }`; `POST /logout` destroys it. */
export function expressSessionCounterApp(
  secret: string,
  store: SessionStore,
  cookie?: session.CookieOptions,
): Express {
  const app = express()
  app.use(
    session({
      secret,
      store: toExpressSessionStore(store, session) as session.Store,
      resave: false,
      saveUninitialized: false,
      ...(cookie === undefined ? {} : { cookie }),
    }),
  )
  app.get('/count', (req, res) => {
    const s = req.session as unknown as { n?: number }
    s.n = (s.n ?? 0) + 1
    res.json({ n: s.n })
  })
  // Typed as express-session's session: @tether/express augments req.session in this program too.
  app.post('/logout', (req, res) => (req.session as unknown as session.Session).destroy(() => res.end()))
  return app
}
