import { fromExpressSessionStore, HybridStore, RedisStore } from '@tether/core'
import { stickySession } from '@tether/express'
import { expect } from 'chai'
import { RedisStore as ConnectRedisStore } from 'connect-redis'
import express from 'express'
import request from 'supertest'
import { storeIdOf } from '../../packages/core/src/crypto/session-id.js'
import { describeExpressSessionBehaviour } from '../suites/express-session-behaviour.js'
import { expressSessionCounterApp } from '../support/express-session-app.js'
import { ioredisClient, nodeRedisClient, type TestClient } from '../support/redis-clients.js'
import { sharedRedisServer, uniquePrefix } from '../support/redis-server.js'
import { cookieFrom } from '../support/session-cookie.js'
import { describeWith } from '../support/system-binaries.js'

const SECRET = 'redis-interop-test-secret-0123456789abcdef'

/** Every value stored under a prefix, read raw through node-redis. */
async function rawValues(c: TestClient, prefix: string): Promise<string> {
  const client = c.client as unknown as { sendCommand(args: string[]): Promise<unknown> }
  let out = ''
  let cursor = '0'
  do {
    const [next, keys] = (await client.sendCommand(['SCAN', cursor, 'MATCH', `${prefix}*`])) as [
      string,
      string[],
    ]
    cursor = next
    for (const key of keys) {
      const type = String(await client.sendCommand(['TYPE', key]))
      const value = await client.sendCommand([type === 'hash' ? 'HGETALL' : 'GET', key])
      out += `${key} ${JSON.stringify(value)}\n`
    }
  } while (cursor !== '0')
  return out
}

describeWith('redis-server', 'connect-redis v9 (node-redis) as the store of @tether/express', () => {
  let c: TestClient

  before(async () => {
    c = await nodeRedisClient(await sharedRedisServer())
  })

  after(async () => {
    await c.close()
  })

  it('keeps sessions through fromExpressSessionStore, encrypted at rest', async () => {
    const prefix = uniquePrefix('connect-redis')
    const store = fromExpressSessionStore(new ConnectRedisStore({ client: c.client, prefix }))
    const app = express()
    app.use(stickySession({ secret: SECRET, store }))
    app.get('/count', (req, res) => {
      const count = ((req.session.get('count') as number | undefined) ?? 0) + 1
      req.session.set('count', count)
      req.session.set('secretNote', 'plaintext-note')
      res.json({ count })
    })
    app.post('/logout', async (req, res) => {
      await req.session.destroy()
      res.end()
    })
    const first = await request(app).get('/count').expect(200, { count: 1 })
    const cookie = cookieFrom(first)
    for (let i = 2; i <= 4; i++)
      await request(app).get('/count').set('Cookie', cookie).expect(200, { count: i })
    const raw = await rawValues(c, prefix)
    const token = cookie.split('=')[1]!.split('.')[0]!
    expect(raw).to.include(storeIdOf(token))
    expect(raw).to.not.include(token)
    expect(raw).to.not.include('plaintext-note')
    await request(app).post('/logout').set('Cookie', cookie).expect(200)
    expect(await rawValues(c, prefix)).to.equal('')
    await request(app).get('/count').set('Cookie', cookie).expect(200, { count: 1 })
  })
})

describeWith('redis-server', 'RedisStore as the store of express-session', () => {
  for (const connect of [ioredisClient, nodeRedisClient]) {
    it(`keeps, counts and destroys sessions (${connect.name})`, async () => {
      const c = await connect(await sharedRedisServer())
      try {
        const redisStore = new RedisStore({ client: c.client as never, prefix: uniquePrefix('es') })
        const agent = request.agent(expressSessionCounterApp(SECRET, redisStore, { maxAge: 60_000 }))
        await agent.get('/count').expect(200, { n: 1 })
        for (let i = 2; i <= 3; i++) await agent.get('/count').expect(200, { n: i })
        const ids = await redisStore.ids()
        expect(ids).to.have.length(1)
        // The key is the hash of express-session's id, never the id itself; TTL follows the cookie.
        const ttl = await redisStore.read(ids[0]!)
        expect(ttl?.expiresAt).to.be.within(Date.now() + 50_000, Date.now() + 60_001)
        await agent.post('/logout').expect(200)
        expect(await redisStore.ids()).to.deep.equal([])
        await agent.get('/count').expect(200, { n: 1 })
      } finally {
        await c.close()
      }
    })
  }
})

describeWith('redis-server', 'Tether Redis stores through toExpressSessionStore', () => {
  const clients: TestClient[] = []
  after(async () => {
    for (const c of clients) await c.close()
  })
  const store = async (kind: 'redis' | 'hybrid') => {
    const c = await ioredisClient(await sharedRedisServer())
    clients.push(c)
    const options = { client: c.client as never, prefix: uniquePrefix(`es-${kind}`) }
    return kind === 'redis' ? new RedisStore(options) : new HybridStore(options)
  }
  describeExpressSessionBehaviour('RedisStore', () => store('redis'))
  describeExpressSessionBehaviour('HybridStore', () => store('hybrid'))
})
