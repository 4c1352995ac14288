import type { Server } from 'node:http'
import {
  HybridStore,
  isTetherError,
  RedisStore,
  SessionManager,
  type SessionStore,
  type TetherError,
} from '@tether/core'
import { stickySession } from '@tether/express'
import { tether } from '@tether/fastify'
import { expect } from 'chai'
import express from 'express'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import request from 'supertest'
import { ioredisClient, nodeRedisClient, type TestClient } from '../support/redis-clients.js'
import { type RedisServerHandle, startRedisServer, uniquePrefix } from '../support/redis-server.js'
import { cookieFrom } from '../support/session-cookie.js'
import { describeWith } from '../support/system-binaries.js'

const SECRET = 'redis-outage-test-secret-0123456789abcdef'

type KeyValueSession = { get(key: string): unknown; set(key: string, value: unknown): void }

/** Polls `check` every 100 ms until it holds, for at most `ms`. */
async function eventually(check: () => Promise<boolean>, ms = 8000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

const cases: Array<{
  name: string
  connect: (s: RedisServerHandle) => Promise<TestClient>
  makeStore: (c: TestClient) => SessionStore
}> = [
  {
    name: 'RedisStore + ioredis',
    connect: ioredisClient,
    makeStore: (c) => new RedisStore({ client: c.client as never, prefix: uniquePrefix('out') }),
  },
  {
    name: 'RedisStore + node-redis',
    connect: nodeRedisClient,
    makeStore: (c) => new RedisStore({ client: c.client as never, prefix: uniquePrefix('out') }),
  },
  {
    name: 'HybridStore + ioredis',
    connect: ioredisClient,
    makeStore: (c) =>
      new HybridStore({ client: c.client as never, prefix: uniquePrefix('out'), resyncInterval: 100 }),
  },
  {
    name: 'HybridStore + node-redis',
    connect: nodeRedisClient,
    makeStore: (c) =>
      new HybridStore({ client: c.client as never, prefix: uniquePrefix('out'), resyncInterval: 100 }),
  },
]

for (const { name, connect, makeStore } of cases) {
  describeWith('redis-server', `Redis outage through an Express app (${name})`, () => {
    let server: RedisServerHandle
    let c: TestClient
    let store: SessionStore
    let http: Server
    let unhandled: unknown[]
    const onUnhandled = (reason: unknown) => unhandled.push(reason)

    before(async function () {
      if (process.env.REDIS_URL) this.skip() // outage tests stop and start a server of their own
      server = await startRedisServer()
      c = await connect(server)
      store = makeStore(c)
      if (store instanceof HybridStore) await store.ready()
      const app = express()
      app.use(stickySession({ secret: SECRET, store }))
      app.get('/count', (req, res) => {
        const count = ((req.session.get('count') as number | undefined) ?? 0) + 1
        req.session.set('count', count)
        res.json({ count })
      })
      app.get('/read', (req, res) => {
        res.json({ count: req.session.get('count') ?? null })
      })
      app.get('/anonymous', (_req, res) => {
        res.json({ ok: true })
      })
      http = app.listen(0, '127.0.0.1')
      unhandled = []
      process.on('unhandledRejection', onUnhandled)
    })

    after(async () => {
      process.removeListener('unhandledRejection', onUnhandled)
      http?.close()
      await store?.close()
      await c?.close()
      await server?.stop()
    })

    it('answers 503 with Retry-After while Redis is down, and recovers when it is back', async function () {
      this.timeout(30_000)
      const first = await request(http).get('/count').expect(200)
      const cookie = cookieFrom(first)
      await request(http).get('/read').set('Cookie', cookie).expect(200, { count: 1 })
      if (store instanceof HybridStore) {
        // The session is in the cache now: an outage must still not serve it.
        expect(store.cached).to.be.greaterThan(0)
      }

      await server.stop()
      for (const path of ['/read', '/count']) {
        const started = Date.now()
        const res = await request(http).get(path).set('Cookie', cookie)
        expect(res.status, `${path} while down`).to.equal(503)
        expect(res.headers['retry-after']).to.match(/^\d+$/)
        expect(Date.now() - started, 'fails fast').to.be.below(2500)
      }
      // A new visitor who stores something cannot be given a session either: 503, not a lost write.
      await request(http).get('/count').expect(503)
      // A request that never touches the session needs no store.
      await request(http).get('/anonymous').expect(200)

      await server.start()
      // No persistence: the old session is gone, so the old cookie reads as a fresh session.
      await eventually(async () => (await request(http).get('/count').set('Cookie', cookie)).status === 200)
      const again = await request(http).get('/count').expect(200, { count: 1 })
      await request(http).get('/count').set('Cookie', cookieFrom(again)).expect(200, { count: 2 })
      if (store instanceof HybridStore) {
        const hybrid = store
        await eventually(async () => hybrid.caching)
      }
      expect(unhandled).to.deep.equal([])
    })
  })
}

describeWith('redis-server', 'Redis outage through a Fastify app (RedisStore + ioredis)', () => {
  it('answers 503 with Retry-After while Redis is down, and recovers when it is back', async function () {
    if (process.env.REDIS_URL) this.skip()
    this.timeout(30_000)
    const server = await startRedisServer()
    const c = await ioredisClient(server)
    const app = Fastify()
    try {
      await app.register(tether, {
        secret: SECRET,
        store: new RedisStore({ client: c.client as never, prefix: uniquePrefix('fastify-out') }),
        retryAfter: 7,
      })
      app.get('/count', async (request) => {
        const session = (request as unknown as { session: KeyValueSession }).session
        const count = ((session.get('count') as number | undefined) ?? 0) + 1
        session.set('count', count)
        return { count }
      })
      await app.ready()
      const first = await app.inject({ url: '/count' })
      expect(first.json()).to.deep.equal({ count: 1 })
      const cookie = String(first.headers['set-cookie']).split(';')[0]!
      await server.stop()
      const down = await app.inject({ url: '/count', headers: { cookie } })
      expect(down.statusCode).to.equal(503)
      expect(down.headers['retry-after']).to.equal('7')
      await server.start()
      await eventually(async () => (await app.inject({ url: '/count' })).statusCode === 200)
    } finally {
      await app.close()
      await c.close()
      await server.stop()
    }
  })
})

describeWith('redis-server', 'A hung Redis (process frozen, connections open)', () => {
  it('fails store calls after the store timeout, then works again when Redis resumes', async function () {
    if (process.env.REDIS_URL) this.skip()
    const server = await startRedisServer()
    // No client-side timeout at all: only the store's own timeout can end the wait.
    const client = new Redis({ host: server.host, port: server.port, lazyConnect: true })
    client.on('error', () => undefined)
    await client.connect()
    const store = new RedisStore({ client, prefix: uniquePrefix('hung'), timeout: 300 })
    const manager = new SessionManager({ secret: SECRET, store })
    try {
      const ctx = await manager.open(undefined)
      ctx.session.set('a', 1)
      const cookie = (await ctx.commit(false))!.split(';')[0]!
      ctx.release()
      server.pause()
      const started = Date.now()
      const error = await manager.open(cookie).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect((error as TetherError)?.code).to.equal('ERR_TETHER_STORE_UNAVAILABLE')
      expect(String((error as TetherError).cause)).to.match(/within 300 ms/)
      expect(Date.now() - started).to.be.within(250, 1500)
      server.resume()
      const again = await manager.open(cookie)
      expect(again.session.get('a')).to.equal(1)
      again.release()
    } finally {
      server.resume()
      client.disconnect()
      await server.stop()
    }
  })
})

describeWith('redis-server', 'Redis outage at the SessionManager level', () => {
  it('open and commit reject with ERR_TETHER_STORE_UNAVAILABLE (not a silent empty session)', async function () {
    if (process.env.REDIS_URL) this.skip()
    const server = await startRedisServer()
    const c = await ioredisClient(server)
    try {
      const manager = new SessionManager({
        secret: SECRET,
        store: new RedisStore({ client: c.client as never, prefix: uniquePrefix('mgr') }),
      })
      const ctx = await manager.open(undefined)
      ctx.session.set('a', 1)
      const header = await ctx.commit(false)
      ctx.release()
      const cookie = header!.split(';')[0]!
      await server.stop()
      const opened = await manager.open(cookie).then(
        () => undefined,
        (error: unknown) => error,
      )
      expect(isTetherError(opened, 'ERR_TETHER_STORE_UNAVAILABLE'), String(opened)).to.equal(true)
      const fresh = await manager.open(undefined)
      fresh.session.set('b', 2)
      const committed = await fresh.commit(false).then(
        () => undefined,
        (error: unknown) => error,
      )
      fresh.release()
      expect((committed as TetherError)?.code).to.equal('ERR_TETHER_STORE_UNAVAILABLE')
      expect(manager.metrics.get('storeErrors')).to.equal(2)
    } finally {
      await c.close()
      await server.stop()
    }
  })
})
