import { requireSession, type StickySessionOptions, stickySession } from '@tether/express'
import express from 'express'

declare module '@tether/express' {
  interface SessionData {
    customer: { id: number; name: string; role: 'admin' | 'customer' }
    basket: string[]
  }
}

/** Demo accounts: name -> password and role. A real app checks a password hash in a database. */
const USERS: Record<string, { id: number; password: string; role: 'admin' | 'customer' }> = {
  alice: { id: 1, password: 'wonderland', role: 'admin' },
  bob: { id: 2, password: 'builder', role: 'customer' },
}

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>Tether shop</title>
<h1>Tether shop</h1>
<p>Log in as <b>alice</b> / wonderland (admin) or <b>bob</b> / builder (customer).</p>
<form method="post" action="/login"><input name="username" placeholder="name"> <input name="password" type="password" placeholder="password"> <button>Log in</button></form>
<form method="post" action="/cart"><input name="item" placeholder="item"> <button>Add to cart</button></form>
<p><a href="/cart">Cart</a> · <a href="/me">Me</a> · <a href="/admin">Admin</a></p>
<form method="post" action="/logout"><button>Log out</button></form>`

/** The shop: login, cart, logout and an admin page behind a guard. */
export function createShop(options: StickySessionOptions) {
  const app = express()
  const sessions = stickySession(options)
  app.use(express.urlencoded({ extended: false }), express.json())
  app.use(sessions)

  app.get('/', (_req, res) => {
    res.type('html').send(PAGE)
  })

  app.post('/login', async (req, res) => {
    const { username, password } = (req.body ?? {}) as { username?: string; password?: string }
    const account = username === undefined ? undefined : USERS[username]
    if (account === undefined || account.password !== password) {
      res.status(401).json({ error: 'wrong name or password' })
      return
    }
    // New id on login (session fixation defence); the cart collected before login is kept.
    await req.session.regenerate()
    req.session.set('customer', { id: account.id, name: username!, role: account.role })
    // The session is stored before this redirect is sent.
    res.redirect(303, '/cart')
  })

  app.get('/me', (req, res) => {
    res.json({ user: req.session.get('customer') ?? null })
  })

  app.get('/cart', requireSession(), (req, res) => {
    res.json(req.session.get('basket') ?? [])
  })

  // Anyone may fill a cart; the first item creates the (anonymous) session.
  app.post('/cart', (req, res) => {
    const item = (req.body as { item?: unknown } | undefined)?.item
    if (typeof item !== 'string' || item.length === 0 || item.length > 100) {
      res.status(400).json({ error: 'item must be a non-empty string' })
      return
    }
    const cart = [...(req.session.get('basket') ?? []), item]
    req.session.set('basket', cart)
    res.status(201).json(cart)
  })

  app.get(
    '/admin',
    requireSession((s) => s.get('customer')?.role === 'admin'),
    async (_req, res) => {
      res.json({ sessions: await sessions.metrics.snapshot() })
    },
  )

  app.post('/logout', async (req, res) => {
    await req.session.destroy()
    res.status(204).end()
  })

  return { app, sessions }
}
