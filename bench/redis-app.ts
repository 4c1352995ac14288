// One HTTP app for bench/redis-http.ts, run in a child process of its own so the load generator
// does not share its event loop. BENCH_APP picks the stack, BENCH_REDIS_URL the Redis.
// Routes: GET /count increments a session counter, GET /read reads it, GET /login stores a signed-in
// user's session (SIGNED_IN: seven keys, about 0.7 KB of JSON), GET /profile reads two of its keys,
// GET /plain touches nothing. The *-floor-redis apps answer /count with a new session made the
// cheapest way a Redis-backed session can be: 32 random bytes (pooled), one SET with an expiry, one
// Set-Cookie (no signature, no encryption, no framework), to show the floor of that workload.
// The *-plain-get apps are the plain apps with one Redis GET before each answer: the framework's
// cost of one round trip per request, which is all a HybridStore hit saves over a RedisStore read.
import { createRequire } from 'node:module'
import { HybridStore, RedisStore, type SessionStore } from '@tether/core'
import { stickySession } from '@tether/express'
import { tether } from '@tether/fastify'
import { RedisStore as ConnectRedisStore } from 'connect-redis'
import express, { type Request, type Response } from 'express'
import session from 'express-session'
import Fastify, { type FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { createClient } from 'redis'
import { RandomPool } from '../packages/core/src/crypto/random-pool.js'
import { SIGNED_IN } from './signed-in-session.js'

// @fastify/session declares its own request.session type; loaded untyped so that it does not
// clash with @tether/fastify's declaration in the one type-check program of tests and benches.
const require = createRequire(import.meta.url)
const fastifyCookie = require('@fastify/cookie') as Parameters<FastifyInstance['register']>[0]
const fastifySession = require('@fastify/session') as Parameters<FastifyInstance['register']>[0]

const app = process.env.BENCH_APP ?? 'express-plain'
const url = process.env.BENCH_REDIS_URL!
const SECRET = 'bench-secret-0123456789abcdef0123456789abcdef'

/**
 * Tether's client: node-redis by default (the client connect-redis uses, so both sides batch their
 * writes alike), or ioredis with auto-pipelining when BENCH_CLIENT=ioredis.
 */
async function tetherClient() {
  if (process.env.BENCH_CLIENT === 'ioredis') {
    const client = new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      enableAutoPipelining: true,
    })
    await new Promise((resolve) => client.once('ready', resolve))
    return client
  }
  const client = createClient({ url, disableOfflineQueue: true })
  await client.connect()
  return client
}

async function tetherStore(kind: 'redis' | 'hybrid'): Promise<SessionStore> {
  const client = await tetherClient()
  if (kind === 'redis') return new RedisStore({ client, prefix: 'bench:' })
  const store = new HybridStore({ client, prefix: 'bench:' })
  await store.ready()
  return store
}

async function connectRedis(): Promise<ConnectRedisStore> {
  const client = createClient({ url })
  await client.connect()
  return new ConnectRedisStore({ client, prefix: 'bench-cr:' })
}

/** CSPRNG output drawn 4 KiB at a time, as Tether draws its tokens. */
const ids = new RandomPool(4096)

/** The floor of a new Redis-backed session: a random id, one SET with its expiry, the Set-Cookie value. */
async function floorSession(): Promise<(count: number) => Promise<string>> {
  const client = createClient({ url })
  await client.connect()
  return async (count) => {
    const id = ids.takeBase64url(32)
    await client.sendCommand(['SET', `bench-floor:${id}`, JSON.stringify({ count }), 'PX', '1800000'])
    return `sid=${id}; Path=/; HttpOnly; SameSite=Lax`
  }
}

/**
 * For the *-plain-get apps, a handler that runs after one GET of a small key on Tether's client;
 * for the plain apps, the handler itself.
 */
async function afterRoundTrip(): Promise<
  <A extends unknown[], R>(handler: (...args: A) => R) => (...args: A) => R | Promise<R>
> {
  if (!app.endsWith('-plain-get')) return (handler) => handler
  const client = await tetherClient()
  await client.set('bench-plain', JSON.stringify({ count: 1 }))
  return (handler) =>
    async (...args) => {
      await client.get('bench-plain')
      return handler(...args)
    }
}

const profileOf = (get: (key: string) => unknown) => ({
  name: get('name'),
  items: (get('cart') as unknown[] | undefined)?.length ?? 0,
})

/** BENCH_DECRYPTED_CACHE_BYTES=0 turns off the reuse of decrypted values (to measure what it saves). */
const tetherTuning = {
  ...(process.env.BENCH_DECRYPTED_CACHE_BYTES !== undefined && {
    decryptedCacheBytes: Number(process.env.BENCH_DECRYPTED_CACHE_BYTES),
  }),
  // The *-tether-redis-clear apps: RedisStore with encryption at rest turned off, values stored as
  // JSON text as connect-redis stores them, to show what encryption costs a new session.
  ...(app.endsWith('-tether-redis-clear') && { encrypt: false }),
}
/** The store of a Tether app (`*-tether-redis`, `*-tether-redis-clear`, `*-tether-hybrid`). */
const tetherKind = app.includes('-tether-hybrid')
  ? 'hybrid'
  : app.includes('-tether-redis')
    ? 'redis'
    : undefined

type Counter = { count?: number }
type KeyValueSession = { get(key: string): unknown; set(key: string, value: unknown): void }

async function listen(): Promise<number> {
  if (app.startsWith('express')) {
    const server = express()
    if (tetherKind !== undefined) {
      const store = await tetherStore(tetherKind)
      server.use(stickySession({ secret: SECRET, store, ...tetherTuning }))
      server.get('/count', (req, res) => {
        const count = ((req.session.get('count') as number | undefined) ?? 0) + 1
        req.session.set('count', count)
        res.json({ count })
      })
      server.get('/read', (req, res) => {
        res.json({ count: req.session.get('count') ?? 0 })
      })
      server.get('/login', (req, res) => {
        for (const [key, value] of Object.entries(SIGNED_IN)) req.session.set(key, value)
        res.json({ ok: true })
      })
      server.get('/profile', (req, res) => {
        res.json(profileOf((key) => req.session.get(key)))
      })
    } else if (app === 'express-session-connect-redis') {
      server.use(
        session({ secret: SECRET, store: await connectRedis(), resave: false, saveUninitialized: false }),
      )
      server.get('/count', (req, res) => {
        const s = req.session as unknown as Counter
        s.count = (s.count ?? 0) + 1
        res.json({ count: s.count })
      })
      server.get('/read', (req, res) => {
        res.json({ count: (req.session as unknown as Counter).count ?? 0 })
      })
      server.get('/login', (req, res) => {
        Object.assign(req.session, SIGNED_IN)
        res.json({ ok: true })
      })
      server.get('/profile', (req, res) => {
        const s = req.session as unknown as Record<string, unknown>
        res.json(profileOf((key) => s[key]))
      })
    } else if (app === 'express-floor-redis') {
      const newSession = await floorSession()
      server.get('/count', async (_req, res) => {
        res.setHeader('Set-Cookie', await newSession(1))
        res.json({ count: 1 })
      })
    } else {
      // Answered at once, as before; the -plain-get apps after their GET.
      const after = await afterRoundTrip()
      let count = 0
      server.get(
        '/count',
        after((_req: Request, res: Response) => {
          res.json({ count: ++count })
        }),
      )
      server.get(
        '/read',
        after((_req: Request, res: Response) => {
          res.json({ count })
        }),
      )
      server.get(
        '/profile',
        after((_req: Request, res: Response) => {
          res.json(profileOf((key) => SIGNED_IN[key]))
        }),
      )
    }
    server.get('/plain', (_req, res) => {
      res.json({ ok: true })
    })
    return new Promise((resolve) => {
      const http = server.listen(0, '127.0.0.1', () => resolve((http.address() as { port: number }).port))
    })
  }
  const server = Fastify()
  if (tetherKind !== undefined) {
    const store = await tetherStore(tetherKind)
    await server.register(tether, { secret: SECRET, store, ...tetherTuning })
    // Both session plugins augment request.session in this one program: name the shape used here.
    const sessionOf = (request: unknown) => (request as { session: KeyValueSession }).session
    server.get('/count', async (request) => {
      const count = ((sessionOf(request).get('count') as number | undefined) ?? 0) + 1
      sessionOf(request).set('count', count)
      return { count }
    })
    server.get('/read', async (request) => ({ count: sessionOf(request).get('count') ?? 0 }))
    server.get('/login', async (request) => {
      for (const [key, value] of Object.entries(SIGNED_IN)) sessionOf(request).set(key, value)
      return { ok: true }
    })
    server.get('/profile', async (request) => profileOf((key) => sessionOf(request).get(key)))
  } else if (app === 'fastify-session-connect-redis') {
    await server.register(fastifyCookie)
    await server.register(fastifySession, {
      secret: SECRET,
      store: (await connectRedis()) as never,
      saveUninitialized: false,
      cookie: { secure: false },
    } as never)
    server.get('/count', async (request) => {
      const s = (request as unknown as { session: KeyValueSession }).session
      const count = ((s.get('count') as number | undefined) ?? 0) + 1
      s.set('count', count)
      return { count }
    })
    server.get('/read', async (request) => ({
      count: (request as unknown as { session: KeyValueSession }).session.get('count') ?? 0,
    }))
    server.get('/login', async (request) => {
      const s = (request as unknown as { session: KeyValueSession }).session
      for (const [key, value] of Object.entries(SIGNED_IN)) s.set(key, value)
      return { ok: true }
    })
    server.get('/profile', async (request) => {
      const s = (request as unknown as { session: KeyValueSession }).session
      return profileOf((key) => s.get(key))
    })
  } else if (app === 'fastify-floor-redis') {
    const newSession = await floorSession()
    server.get('/count', async (_request, reply) => {
      reply.header('set-cookie', await newSession(1))
      return { count: 1 }
    })
  } else {
    const after = await afterRoundTrip()
    server.get(
      '/count',
      after(async () => ({ count: 0 })),
    )
    server.get(
      '/read',
      after(async () => ({ count: 0 })),
    )
    server.get(
      '/profile',
      after(async () => profileOf((key) => SIGNED_IN[key])),
    )
  }
  await server.listen({ port: 0, host: '127.0.0.1' })
  return (server.server.address() as { port: number }).port
}

// The bench asks for this process's CPU time around each run (CPU per request resists noise
// from other work on the machine better than requests per second).
process.on('message', (message: { cpu?: boolean }) => {
  if (message.cpu) process.send!({ cpu: process.cpuUsage() })
})

listen().then(
  (port) => process.send!({ port }),
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  },
)

// A clean exit on SIGTERM (lets --cpu-prof write its profile when the bench stops the app).
process.on('SIGTERM', () => process.exit(0))
