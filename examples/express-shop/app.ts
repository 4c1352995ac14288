import { fileURLToPath } from 'node:url'
import { requireSession, type StickySessionOptions, stickySession } from '@tether/express'
import express, { type Request, type Response } from 'express'
import { createDashboard } from './dashboard.js'
import { adminPage, MESSAGES, type ShopView, shopPage } from './pages.js'

declare module '@tether/express' {
  interface SessionData {
    customer: { id: number; name: string; role: 'admin' | 'customer' }
    basket: string[]
    /** When the session was created (ms since the epoch), for the page. */
    since: number
  }
}

/** Demo accounts: name -> password and role. A real app checks a password hash in a database. */
const USERS: Record<string, { id: number; password: string; role: 'admin' | 'customer' }> = {
  alice: { id: 1, password: 'wonderland', role: 'admin' },
  bob: { id: 2, password: 'builder', role: 'customer' },
}

/** The core's default idle timeout, shown on the page when the app sets none. */
const DEFAULT_IDLE_TIMEOUT_MS = 30 * 60_000
const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url))

export interface ShopDemoOptions {
  /** Serves `/dashboard` (live view of the cluster) and `/metrics` (Prometheus). Needs a cluster. */
  dashboard?: boolean
  /** Lets the dashboard kill a worker with SIGKILL. Only for a demo on your own machine. */
  killControl?: boolean
}

/** Browsers ask for HTML and get pages and redirects; curl and scripts get the JSON API. */
function wantsHtml(req: Request): boolean {
  return req.accepts(['json', 'html']) === 'html'
}

/** Back to the home page with one of the fixed messages. */
function backHome(res: Response, message: keyof typeof MESSAGES): void {
  res.redirect(303, `/?msg=${message}`)
}

/** The shop: login, cart, logout and an admin page behind a guard; with `demo`, the dashboard. */
export function createShop(options: StickySessionOptions, demo: ShopDemoOptions = {}) {
  const app = express()
  // Each session is tied to its customer, so that "log out everywhere" can find them all.
  const sessions = stickySession({ owner: (session) => session.get('customer')?.name, ...options })
  const worker = { name: process.env.TETHER_ROUTE ?? 'single process', pid: process.pid }
  const dashboard = demo.dashboard === true
  app.use(express.static(PUBLIC_DIR, { index: false, maxAge: '1h' }))
  app.get('/favicon.ico', (_req, res) => {
    res.type('image/svg+xml').sendFile('favicon.svg', { root: PUBLIC_DIR, maxAge: '1h' })
  })
  // Before the sessions: the dashboard's stream stays open for minutes and needs no session.
  if (dashboard) app.use(createDashboard({ killControl: demo.killControl === true }))
  app.use(express.urlencoded({ extended: false, limit: '4kb' }), express.json({ limit: '4kb' }))
  app.use(sessions)

  app.get('/', (req, res) => {
    const view: ShopView = {
      worker,
      user: req.session.get('customer'),
      cart: req.session.get('basket') ?? [],
      since: req.session.isNew ? undefined : req.session.get('since'),
      idleTimeoutMs: options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT_MS,
      message: typeof req.query.msg === 'string' && req.query.msg in MESSAGES ? req.query.msg : undefined,
      dashboard,
    }
    // The home page is a page: JSON only for a client that asks for it (the dashboard does).
    if (req.accepts(['html', 'json']) === 'json') {
      res.json({ worker: view.worker, user: view.user ?? null, cart: view.cart, since: view.since ?? null })
      return
    }
    res.set('cache-control', 'no-store').type('html').send(shopPage(view))
  })

  app.post('/login', async (req, res) => {
    const { username, password } = (req.body ?? {}) as { username?: string; password?: string }
    const account =
      typeof username === 'string' && Object.hasOwn(USERS, username) ? USERS[username] : undefined
    if (account === undefined || account.password !== password) {
      if (wantsHtml(req)) backHome(res, 'wrong-password')
      else res.status(401).json({ error: 'wrong name or password' })
      return
    }
    // New id on login (session fixation defence); the cart collected before login is kept.
    await req.session.regenerate()
    if (!req.session.has('since')) req.session.set('since', Date.now())
    req.session.set('customer', { id: account.id, name: username!, role: account.role })
    // The session is stored before this redirect is sent.
    if (wantsHtml(req)) backHome(res, 'logged-in')
    else res.redirect(303, '/cart')
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
      if (wantsHtml(req)) backHome(res, 'bad-item')
      else res.status(400).json({ error: 'item must be a non-empty string' })
      return
    }
    if (req.session.isNew) req.session.set('since', Date.now())
    const cart = [...(req.session.get('basket') ?? []), item]
    req.session.set('basket', cart)
    if (wantsHtml(req)) backHome(res, 'added')
    else res.status(201).json(cart)
  })

  const isAdmin = (session: Request['session']) => session.get('customer')?.role === 'admin'
  // A browser that may not see the admin page is sent home with a message; the JSON API keeps the
  // guard's 401 and 403.
  const adminPageOrHome = (req: Request, res: Response, next: () => void) => {
    if (wantsHtml(req) && (req.session.isNew || !isAdmin(req.session))) backHome(res, 'not-admin')
    else next()
  }
  app.get('/admin', adminPageOrHome, requireSession(isAdmin), async (req, res) => {
    const counters = await sessions.metrics.snapshot()
    if (wantsHtml(req)) res.type('html').send(adminPage(worker, { ...counters }, dashboard))
    else res.json({ sessions: counters })
  })

  // A password change or a lost phone: every session of this customer ends, on every worker.
  app.post('/logout-everywhere', async (req, res) => {
    const customer = req.session.get('customer')
    const ended = customer === undefined ? 0 : await sessions.destroyAll(customer.name)
    if (wantsHtml(req)) backHome(res, 'logged-out-everywhere')
    else res.json({ ended })
  })

  app.post('/logout', async (req, res) => {
    await req.session.destroy()
    if (wantsHtml(req)) backHome(res, 'logged-out')
    else res.status(204).end()
  })

  return { app, sessions }
}
