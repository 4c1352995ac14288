// One benchmark target per process: `node --import tsx bench/adapters-server.ts <express|fastify> <tether|anchor|plain|floor|stored-floor>`.
// `floor` is the plain app whose GET /new does the least any session library must do for a new
// session: one unguessable token from pooled CSPRNG output, sent in a Set-Cookie header of the
// size and attributes of Tether's (no signature, nothing stored). `stored-floor` also keeps each
// new session in memory, the least an in-memory store does: a small record under its token in a
// Map capped at 100,000 sessions (MemoryStore's default), the oldest evicted to make room; its
// GET /count finds the session by the token in the Cookie header and increments its counter.
// Prints "READY <url>" once listening. /key, /keys, /slow-set and /logout serve
// bench/adapters-lost-updates.ts. GET /count loads, increments and saves a counter in the
// session; GET /new creates a session; GET /peek reads the counter without changing it, with the
// number of /count and /new requests handled and the CPU and GC time this process has used.
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { PerformanceObserver } from 'node:perf_hooks'
import type { Session } from '@tether/core'
import { stickySession } from '@tether/express'
import tether from '@tether/fastify'
import express from 'express'
import session from 'express-session'
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import { RandomPool } from '../packages/core/src/crypto/random-pool.js'

const SECRET = 'bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz'
const [framework, variant] = process.argv.slice(2)
let handled = 0
// Time spent in garbage collection: what a per-request allocation pattern costs shows up here.
let gcMicros = 0
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcMicros += entry.duration * 1000
}).observe({ entryTypes: ['gc'] })
const stats = (count: unknown) => {
  const cpu = process.cpuUsage()
  return { count: count ?? 0, handled, cpuMicros: cpu.user + cpu.system, userMicros: cpu.user, gcMicros }
}

// @fastify/session declares its own request.session type; loaded untyped so that it does not
// clash with @tether/fastify's declaration in this program.
const require = createRequire(import.meta.url)
const fastifyCookie = require('@fastify/cookie') as Parameters<FastifyInstance['register']>[0]
const fastifySession = require('@fastify/session') as Parameters<FastifyInstance['register']>[0]

interface Untyped {
  count?: number
  visits?: number
  get(key: string): unknown
  set(key: string, value: unknown): void
}

/** The same few session operations on every stack, for the lost-update routes. */
interface SessionAccess {
  get(key: string): unknown
  set(key: string, value: unknown): void
  destroy(): Promise<void>
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** CSPRNG output drawn 4 KiB at a time, as Tether and Node's randomUUID() do. */
const tokens = new RandomPool(4096)
/** The stored floor's sessions, and their tokens in order of creation (a ring: oldest evicted). */
const STORED_FLOOR_CAPACITY = 100_000
const storedFloor = new Map<string, { createdAt: number; fields: Record<string, string> }>()
const storedFloorTokens: string[] = []
let storedFloorNext = 0

/** Keeps a new session in memory the cheapest way a store can, evicting the oldest when full. */
function storeFloorSession(token: string): void {
  const slot = storedFloorNext++ % STORED_FLOOR_CAPACITY
  const oldest = storedFloorTokens[slot]
  if (oldest !== undefined) storedFloor.delete(oldest)
  storedFloorTokens[slot] = token
  storedFloor.set(token, { createdAt: Date.now(), fields: { visits: '1' } })
}

/** The stored floor's session named by a Cookie header (the 43-character token after the name). */
function storedFloorSessionOf(cookieHeader: string | undefined) {
  const at = cookieHeader === undefined ? -1 : cookieHeader.indexOf('tether.sid=')
  return at < 0 ? undefined : storedFloor.get(cookieHeader!.slice(at + 11, at + 11 + 43))
}

/** The stored floor's GET /count: the session's counter, incremented (a new session when none). */
function countInStoredFloor(cookieHeader: string | undefined, setCookie: (value: string) => void): number {
  const session = storedFloorSessionOf(cookieHeader)
  if (session === undefined) {
    const cookie = floorCookie()
    storedFloorSessionOf(cookie)!.fields.count = '1'
    setCookie(cookie)
    return 1
  }
  const count = Number(session.fields.count ?? '0') + 1
  session.fields.count = JSON.stringify(count)
  return count
}

/** What the stored floor's GET /peek reports as the counter. */
const storedFloorCount = (cookieHeader: string | undefined) =>
  Number(storedFloorSessionOf(cookieHeader)?.fields.count ?? '0')

/** The floor's Set-Cookie: a 32-byte token where Tether's cookie has token, route and MAC. */
function floorCookie(): string {
  const token = tokens.takeBase64url(32)
  if (variant === 'stored-floor') storeFloorSession(token)
  return `tether.sid=${token}.solo.${'0'.repeat(22)}; Path=/; HttpOnly; SameSite=Lax`
}

function countKeys(session: SessionAccess, n: number): number {
  let kept = 0
  for (let i = 0; i < n; i++) if (session.get(`k${i}`) === true) kept++
  return kept
}

/**
 * The Tether session of a Fastify request. Typed through core because other files of this
 * type-check program load @fastify/session's types, whose declaration of `request.session` wins.
 */
const sessionOfTether = (request: FastifyRequest) => (request as unknown as { session: Session }).session

async function expressApp(): Promise<string> {
  const app = express()
  let plainCount = 0
  app.use((req, _res, next) => {
    if (req.url !== '/peek') handled++
    next()
  })
  if (variant === 'tether') {
    app.use(stickySession({ secret: SECRET }))
    app.get('/count', (req, res) => {
      const count = ((req.session.get('count') as number | undefined) ?? 0) + 1
      req.session.set('count', count)
      res.json({ count })
    })
    app.get('/new', (req, res) => {
      req.session.set('visits', 1)
      res.json({ ok: true })
    })
    app.get('/peek', (req, res) => {
      res.json(stats(req.session.get('count')))
    })
  } else if (variant === 'anchor') {
    app.use(session({ secret: SECRET, resave: false, saveUninitialized: false }))
    app.get('/count', (req, res) => {
      const s = req.session as unknown as Untyped
      s.count = (s.count ?? 0) + 1
      res.json({ count: s.count })
    })
    app.get('/new', (req, res) => {
      ;(req.session as unknown as Untyped).visits = 1
      res.json({ ok: true })
    })
    app.get('/peek', (req, res) => {
      res.json(stats((req.session as unknown as Untyped).count))
    })
  } else {
    app.get('/count', (req, res) => {
      if (variant === 'stored-floor') {
        res.json({ count: countInStoredFloor(req.headers.cookie, (c) => res.setHeader('Set-Cookie', c)) })
        return
      }
      plainCount++
      res.json({ count: plainCount })
    })
    app.get('/new', (_req, res) => {
      if (variant === 'floor' || variant === 'stored-floor') res.setHeader('Set-Cookie', floorCookie())
      res.json({ ok: true })
    })
    app.get('/peek', (req, res) => {
      res.json(stats(variant === 'stored-floor' ? storedFloorCount(req.headers.cookie) : plainCount))
    })
  }
  if (variant === 'tether' || variant === 'anchor') {
    const access = (req: express.Request): SessionAccess => {
      if (variant === 'tether') {
        return {
          get: (k) => req.session.get(k),
          set: (k, v) => req.session.set(k, v),
          destroy: () => req.session.destroy(),
        }
      }
      const s = req.session as unknown as Record<string, unknown> & {
        destroy(cb: (e?: unknown) => void): void
      }
      return {
        get: (k) => s[k],
        set: (k, v) => {
          s[k] = v
        },
        destroy: () => new Promise<void>((resolve, reject) => s.destroy((e) => (e ? reject(e) : resolve()))),
      }
    }
    app.get('/key', async (req, res) => {
      await pause(Math.random() * 5)
      access(req).set(String(req.query.k), true)
      res.json({ ok: true })
    })
    app.get('/keys', (req, res) => {
      res.json({ kept: countKeys(access(req), Number(req.query.n)), late: access(req).get('late') === true })
    })
    app.get('/slow-set', async (req, res) => {
      await pause(100)
      access(req).set('late', true)
      res.json({ ok: true })
    })
    app.post('/logout', async (req, res) => {
      await access(req).destroy()
      res.end()
    })
  }
  const server = app.listen(0, '127.0.0.1')
  await new Promise<void>((resolve) => server.once('listening', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

async function fastifyApp(): Promise<string> {
  const app = Fastify()
  let plainCount = 0
  app.addHook('onRequest', (request, _reply, done) => {
    if (request.url !== '/peek') handled++
    done()
  })
  if (variant === 'tether') {
    await app.register(tether, { secret: SECRET })
    app.get('/count', async (request) => {
      const count = ((sessionOfTether(request).get('count') as number | undefined) ?? 0) + 1
      sessionOfTether(request).set('count', count)
      return { count }
    })
    app.get('/new', async (request) => {
      sessionOfTether(request).set('visits', 1)
      return { ok: true }
    })
    app.get('/peek', async (request) => stats(sessionOfTether(request).get('count')))
  } else if (variant === 'anchor') {
    await app.register(fastifyCookie)
    await app.register(fastifySession, {
      secret: SECRET,
      saveUninitialized: false,
      cookie: { secure: false },
    })
    const sessionOf = (request: unknown) => (request as { session: Untyped }).session
    app.get('/count', async (request) => {
      const s = sessionOf(request)
      const count = ((s.get('count') as number | undefined) ?? 0) + 1
      s.set('count', count)
      return { count }
    })
    app.get('/new', async (request) => {
      sessionOf(request).set('visits', 1)
      return { ok: true }
    })
    app.get('/peek', async (request) => stats(sessionOf(request).get('count')))
  } else {
    app.get('/count', async (request, reply) => {
      if (variant === 'stored-floor') {
        return { count: countInStoredFloor(request.headers.cookie, (c) => reply.header('set-cookie', c)) }
      }
      plainCount++
      return { count: plainCount }
    })
    app.get('/new', async (_request, reply) => {
      if (variant === 'floor' || variant === 'stored-floor') reply.header('set-cookie', floorCookie())
      return { ok: true }
    })
    app.get('/peek', async (request) =>
      stats(variant === 'stored-floor' ? storedFloorCount(request.headers.cookie) : plainCount),
    )
  }
  if (variant === 'tether' || variant === 'anchor') {
    const access = (request: FastifyRequest): SessionAccess => {
      if (variant === 'tether') {
        return {
          get: (k) => sessionOfTether(request).get(k),
          set: (k, v) => sessionOfTether(request).set(k, v),
          destroy: () => sessionOfTether(request).destroy(),
        }
      }
      const s = (request as unknown as { session: Untyped & { destroy(): Promise<void> } }).session
      return { get: (k) => s.get(k), set: (k, v) => s.set(k, v), destroy: () => s.destroy() }
    }
    app.get<{ Querystring: { k: string } }>('/key', async (request) => {
      await pause(Math.random() * 5)
      access(request).set(request.query.k, true)
      return { ok: true }
    })
    app.get<{ Querystring: { n: string } }>('/keys', async (request) => ({
      kept: countKeys(access(request), Number(request.query.n)),
      late: access(request).get('late') === true,
    }))
    app.get('/slow-set', async (request) => {
      await pause(100)
      access(request).set('late', true)
      return { ok: true }
    })
    app.post('/logout', async (request, reply) => {
      await access(request).destroy()
      return reply.send()
    })
  }
  await app.listen({ port: 0, host: '127.0.0.1' })
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
}

if (
  !['express', 'fastify'].includes(framework ?? '') ||
  !['tether', 'anchor', 'plain', 'floor', 'stored-floor'].includes(variant ?? '')
) {
  console.error('usage: adapters-server.ts <express|fastify> <tether|anchor|plain|floor|stored-floor>')
  process.exit(2)
}
const url = framework === 'express' ? await expressApp() : await fastifyApp()
console.log(`READY ${url}`)
// Exit through process.exit so that --cpu-prof and similar flags get to write their output.
process.once('SIGTERM', () => process.exit(0))
process.once('SIGINT', () => process.exit(0))
