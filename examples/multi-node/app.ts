import { type Session, type StickySessionOptions, stickySession } from '@tether/express'
import express from 'express'

/** Most items one cart holds: a session is not a database. */
const MAX_ITEMS = 100

/**
 * The session's cart, checked rather than trusted: during a rolling deploy another node, running
 * another version of this app, may have written it.
 */
function cartOf(session: Session): string[] {
  const cart = session.get('cart')
  return Array.isArray(cart) ? cart.filter((item): item is string => typeof item === 'string') : []
}

/**
 * A cart kept in the session. Every response says which node and worker served it, in the body
 * (`servedBy`) and in `X-Tether-Worker`, to watch the affinity and the failover with curl.
 */
export function createCartApp(options: StickySessionOptions) {
  const app = express()
  const servedBy = process.env.TETHER_ROUTE ?? 'solo'

  // Before the session middleware: HAProxy's health checks create no sessions.
  app.get('/health', (_req, res) => {
    res.type('text').send('ok')
  })

  app.use(express.json(), stickySession(options))
  app.use((_req, res, next) => {
    res.setHeader('X-Tether-Worker', servedBy)
    next()
  })

  app.get('/cart', (req, res) => {
    res.json({ cart: cartOf(req.session), servedBy })
  })

  // The first item creates the session (and its cookie, naming this node and worker).
  app.post('/cart', (req, res) => {
    const item = (req.body as { item?: unknown } | undefined)?.item
    if (typeof item !== 'string' || item.length === 0 || item.length > 100) {
      res.status(400).json({ error: 'item must be a string of 1 to 100 characters' })
      return
    }
    const cart = cartOf(req.session)
    if (cart.length >= MAX_ITEMS) {
      res.status(409).json({ error: `a cart holds at most ${MAX_ITEMS} items` })
      return
    }
    cart.push(item)
    req.session.set('cart', cart)
    res.status(201).json({ cart, servedBy })
  })

  app.delete('/cart', async (req, res) => {
    await req.session.destroy()
    res.status(204).end()
  })

  return app
}
