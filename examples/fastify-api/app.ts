import tether, { requireSession, type TetherPluginOptions } from '@tether/fastify'
import Fastify from 'fastify'

declare module '@tether/fastify' {
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

/** The shop's JSON API on Fastify: login, cart, logout and an admin route behind a guard. */
export async function createApi(options: TetherPluginOptions) {
  const app = Fastify()
  await app.register(tether, options)

  app.get('/', async () => ({
    endpoints: ['POST /login', 'GET /me', 'GET /cart', 'POST /cart', 'GET /admin', 'POST /logout'],
    accounts: 'alice / wonderland (admin), bob / builder (customer)',
  }))

  app.post<{ Body: { username?: string; password?: string } | null }>('/login', async (request, reply) => {
    const { username, password } = request.body ?? {}
    const account = username === undefined ? undefined : USERS[username]
    if (account === undefined || account.password !== password) {
      return reply.code(401).send({ error: 'wrong name or password' })
    }
    // New id on login (session fixation defence); the cart collected before login is kept.
    await request.session.regenerate()
    request.session.set('customer', { id: account.id, name: username!, role: account.role })
    // The session is stored before this redirect is sent.
    return reply.redirect('/cart', 303)
  })

  app.get('/me', async (request) => ({ user: request.session.get('customer') ?? null }))

  app.get('/cart', { preHandler: requireSession() }, async (request) => request.session.get('basket') ?? [])

  // Anyone may fill a cart; the first item creates the (anonymous) session.
  app.post<{ Body: { item?: unknown } | null }>('/cart', async (request, reply) => {
    const item = request.body?.item
    if (typeof item !== 'string' || item.length === 0 || item.length > 100) {
      return reply.code(400).send({ error: 'item must be a non-empty string' })
    }
    const cart = [...(request.session.get('basket') ?? []), item]
    request.session.set('basket', cart)
    return reply.code(201).send(cart)
  })

  app.get('/admin', { preHandler: requireSession((s) => s.get('customer')?.role === 'admin') }, async () => ({
    sessions: await app.tether.metrics.snapshot(),
  }))

  app.post('/logout', async (request, reply) => {
    await request.session.destroy()
    return reply.code(204).send()
  })

  return app
}
