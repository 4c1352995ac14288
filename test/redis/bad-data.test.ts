import { Metrics, RedisStore, SessionManager } from '@tether/core'
import { expect } from 'chai'
import type { Redis } from 'ioredis'
import { storeIdOf } from '../../packages/core/src/crypto/session-id.js'
import { dumpAll, ioredisClient, type TestClient } from '../support/redis-clients.js'
import {
  parseCommandStats,
  type RedisServerHandle,
  redisCli,
  startRedisServer,
  uniquePrefix,
} from '../support/redis-server.js'
import { SessionBrowser } from '../support/redis-session-client.js'
import { describeWith } from '../support/system-binaries.js'

/** Commands RedisStore sends itself (scripts run HSET, PEXPIRE, PUBLISH… inside one EVALSHA). */
const STORE_SENDS = new Set([
  'hgetall',
  'evalsha',
  'eval',
  'exists',
  'zrem',
  'zrange',
  'scan',
  'unlink',
  'keys',
])

const SECRET = 'redis-bad-data-test-secret-0123456789abcdef'

describeWith('redis-server', 'RedisStore with garbage in Redis', () => {
  let server: RedisServerHandle
  let c: TestClient
  let redis: Redis
  let store: RedisStore
  let metrics: Metrics
  let browser: SessionBrowser
  let key: string

  before(async () => {
    // A server of its own: the round-trip counts below must see this file's commands only.
    server = await startRedisServer()
    c = await ioredisClient(server)
    redis = c.client as Redis
  })

  after(async () => {
    await c.close()
    await server.stop()
  })

  beforeEach(async () => {
    store = new RedisStore({ client: redis, prefix: uniquePrefix('bad') })
    metrics = new Metrics()
    browser = new SessionBrowser(new SessionManager({ secret: SECRET, store, metrics }))
    await browser.request((s) => s.set('user', 'alice'))
    const token = browser.cookie!.split('=')[1]!.split('.')[0]!
    key = store.keyOf(storeIdOf(token))
  })

  /** The next request sees a fresh session, the bad record is counted and gone from Redis. */
  async function expectReadAsNoSessionAndRemoved(): Promise<void> {
    expect(await browser.request((s) => s.get('user'))).to.equal(undefined)
    expect(metrics.get('decryptFailures')).to.equal(1)
    expect(await redis.exists(key)).to.equal(0)
  }

  it('a key of the wrong type (WRONGTYPE) reads as no session', async () => {
    await redis.del(key)
    await redis.set(key, 'not a hash')
    await expectReadAsNoSessionAndRemoved()
  })

  it('a list under the session key reads as no session', async () => {
    await redis.del(key)
    await redis.rpush(key, 'a', 'b')
    await expectReadAsNoSessionAndRemoved()
  })

  it('a tampered envelope reads as no session', async () => {
    await redis.hset(key, 'd:user', 'v1.garbage.garbage')
    await expectReadAsNoSessionAndRemoved()
  })

  it('a hash without its times reads as no session', async () => {
    await redis.hdel(key, 'c')
    await expectReadAsNoSessionAndRemoved()
  })

  it("a value moved from another session's hash reads as no session", async () => {
    const other = new SessionBrowser(browser.manager)
    await other.request((s) => s.set('user', 'mallory'))
    const otherKey = store.keyOf(storeIdOf(other.cookie!.split('=')[1]!.split('.')[0]!))
    await redis.hset(key, 'd:user', (await redis.hget(otherKey, 'd:user'))!)
    await expectReadAsNoSessionAndRemoved()
  })

  it('a write that finds garbage under the key does not create over it unless allowed', async () => {
    await redis.del(key)
    await redis.set(key, 'junk')
    const id = key.slice(store.prefix.length + 1, -1)
    const now = Date.now()
    const write = { set: { a: '1' }, unset: [], createdAt: now, touchedAt: now, expiresAt: now + 60_000 }
    expect(await store.write(id, { ...write, established: false, create: false })).to.equal(false)
    expect(await redis.get(key)).to.equal('junk')
    expect(await store.touch(id, now, now + 60_000)).to.equal(false)
  })

  describe('a dump of Redis', () => {
    it('contains neither the token nor plaintext values (encryption is on by default)', async () => {
      await browser.request((s) => s.set('cart', ['plaintext-cart-item']))
      const token = browser.cookie!.split('=')[1]!.split('.')[0]!
      const dump = await dumpAll(redis)
      expect(dump).to.include(store.prefix)
      expect(dump).to.not.include(token)
      expect(dump).to.not.include('alice')
      expect(dump).to.not.include('plaintext-cart-item')
      expect(dump).to.not.include('"user"')
    })
  })

  describe('round trips (INFO commandstats)', () => {
    async function commandsDuring(work: () => Promise<void>): Promise<Record<string, number>> {
      await redisCli(server, 'CONFIG', 'RESETSTAT')
      await work()
      const stats = parseCommandStats(await redisCli(server, 'INFO', 'commandstats'))
      // commandstats also counts the commands a script runs; keep what the store itself sends.
      return Object.fromEntries(Object.entries(stats).filter(([name]) => STORE_SENDS.has(name)))
    }

    it('a request that reads an unchanged session costs one HGETALL and nothing else', async () => {
      expect(await commandsDuring(() => browser.request((s) => void s.get('user')))).to.deep.equal({
        hgetall: 1,
      })
    })

    it('a request that changes a key costs one HGETALL and one EVALSHA', async () => {
      expect(await commandsDuring(() => browser.request((s) => s.set('n', 1)))).to.deep.equal({
        hgetall: 1,
        evalsha: 1,
      })
    })

    it('a new session costs one EVALSHA and no read; inside it EXISTS, HSET and PEXPIRE', async () => {
      // The first new session of a server loads the script (NOSCRIPT, then EVAL); later ones do not.
      await new SessionBrowser(browser.manager).request((s) => s.set('n', 0))
      const fresh = new SessionBrowser(browser.manager)
      await redisCli(server, 'CONFIG', 'RESETSTAT')
      await fresh.request((s) => s.set('n', 1))
      const stats = parseCommandStats(await redisCli(server, 'INFO', 'commandstats'))
      delete stats['config|resetstat']
      expect(stats).to.deep.equal({ evalsha: 1, exists: 1, hset: 1, pexpire: 1 })
    })

    it('never uses KEYS, even to list or clear', async () => {
      const stats = await commandsDuring(async () => {
        await store.ids()
        await store.clear()
      })
      expect(stats).to.not.have.property('keys')
      expect(stats).to.have.property('scan')
    })
  })
})
