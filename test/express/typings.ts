// Type test, checked by `tsc -p test/tsconfig.json`: req.session is typed through the
// @tether/express augmentation and SessionData; each @ts-expect-error must stay an error.
import { requireSession, type Session, type StickySessionMiddleware, stickySession } from '@tether/express'
import express from 'express'

declare module '@tether/core' {
  interface SessionData {
    expressTypingsUser: { id: number; role: 'admin' | 'user' }
    expressTypingsCart: string[]
  }
}

// The same augmentation on the adapter's own SessionData (as its README shows) types the keys too.
declare module '@tether/express' {
  interface SessionData {
    expressAdapterKey: { since: number }
  }
}

const app = express()
const sessions: StickySessionMiddleware = stickySession({ secret: 'x'.repeat(32), retryAfter: 3 })
app.use(sessions)

app.get('/cart', requireSession(), (req, res) => {
  const session: Session = req.session
  const cart: string[] | undefined = session.get('expressTypingsCart')
  req.session.set('expressTypingsCart', [...(cart ?? []), 'apple'])
  // @ts-expect-error a declared key only takes its declared type
  req.session.set('expressTypingsCart', 42)
  // @ts-expect-error the value of a declared key is typed, not any
  const wrong: number | undefined = req.session.get('expressTypingsUser')
  // An undeclared key still works, typed as unknown.
  const other: unknown = req.session.get('anything')
  // @ts-expect-error the session has no such method
  req.session.save()
  res.json({ cart, wrong, other })
})

app.get(
  '/admin',
  requireSession(async (s, req) => s.get('expressTypingsUser')?.role === 'admin' && req.path === '/admin'),
  (_req, res) => res.end(),
)
app.get(
  '/custom',
  requireSession(undefined, { unauthenticated: { status: 419, body: 'log in' } }),
  (_req, res) => res.end(),
)

// @ts-expect-error the secret is required
stickySession({})
// @ts-expect-error retryAfter is a number of seconds
stickySession({ secret: 'x'.repeat(32), retryAfter: '5' })
// @ts-expect-error a predicate returns a boolean
requireSession((s) => s.get('expressTypingsUser'))
// @ts-expect-error statuses are numbers
requireSession(undefined, { forbidden: { status: '403' } })

export { app }

/** A key declared on @tether/express's SessionData is typed like one declared on the core's. */
export function adapterAugmentation(session: Session): number | undefined {
  // @ts-expect-error the value of a key declared through the adapter is typed, not unknown
  const wrong: string | undefined = session.get('expressAdapterKey')?.since
  void wrong
  return session.get('expressAdapterKey')?.since
}
