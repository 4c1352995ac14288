import { Metrics, RedisStore, SessionManager } from '@tether/core'
import { expect } from 'chai'
import type { Redis } from 'ioredis'
import { signCookieValue } from '../../packages/core/src/cookie/cookie-value.js'
import { Keyring } from '../../packages/core/src/crypto/keyring.js'
import { storeIdOf } from '../../packages/core/src/crypto/session-id.js'
import { ioredisClient, type TestClient } from '../support/redis-clients.js'
import { sharedRedisServer, uniquePrefix } from '../support/redis-server.js'
import { SessionBrowser } from '../support/redis-session-client.js'
import { describeWith } from '../support/system-binaries.js'

const SECRET = 'redis-tamper-test-secret-0123456789abcdef'
const TEN_YEARS = 10 * 365 * 24 * 3_600_000

// Someone who can write to Redis but does not hold the secret changes a record with a raw client.
describeWith('redis-server', 'RedisStore records changed behind Tether', () => {
  let c: TestClient
  let redis: Redis
  let metrics: Metrics
  let browser: SessionBrowser
  let store: RedisStore

  before(async () => {
    c = await ioredisClient(await sharedRedisServer())
    redis = c.client as Redis
  })
  after(() => c.close())

  beforeEach(async () => {
    store = new RedisStore({ client: redis, prefix: uniquePrefix('tamper') })
    metrics = new Metrics()
    browser = new SessionBrowser(new SessionManager({ secret: SECRET, store, metrics, route: 'w0' }))
    await browser.request((s) => s.set('role', 'admin'))
  })

  const tokenOf = (cookie: string) => cookie.split('=')[1]!.split('.')[0]!
  const keyOf = (cookie: string) => store.keyOf(storeIdOf(tokenOf(cookie)))

  /** The next request finds no session, counts the record and leaves nothing of it in Redis. */
  async function expectNoSession(key: string): Promise<void> {
    expect(await browser.request((s) => ({ isNew: s.isNew, role: s.get('role') }))).to.deep.equal({
      isNew: true,
      role: undefined,
    })
    expect(metrics.get('decryptFailures')).to.equal(1)
    expect(await redis.exists(key)).to.equal(0)
  }

  it('a session that nobody changed reads as it was written', async () => {
    expect(await browser.request((s) => s.get('role'))).to.equal('admin')
    expect(metrics.get('decryptFailures')).to.equal(0)
  })

  it('a creation time moved 10 years ahead (to escape the absolute timeout) reads as no session', async () => {
    const key = keyOf(browser.cookie!)
    const createdAt = Number(await redis.hget(key, 'c'))
    await redis.hset(key, 'c', String(createdAt + TEN_YEARS))
    await expectNoSession(key)
  })

  it('a creation time moved back by a millisecond reads as no session', async () => {
    const key = keyOf(browser.cookie!)
    await redis.hset(key, 'c', String(Number(await redis.hget(key, 'c')) - 1))
    await expectNoSession(key)
  })

  it('a record whose seal was removed reads as no session', async () => {
    const key = keyOf(browser.cookie!)
    await redis.hdel(key, 's')
    await expectNoSession(key)
  })

  it("another session's seal and creation time copied over read as no session", async () => {
    const other = new SessionBrowser(browser.manager)
    await other.request((s) => s.set('role', 'guest'))
    const key = keyOf(browser.cookie!)
    const [createdAt, seal] = await redis.hmget(keyOf(other.cookie!), 'c', 's')
    await redis.hset(key, 'c', createdAt!, 's', seal!)
    await expectNoSession(key)
  })

  it('an older envelope of a value put back (a role restored after a demotion) reads as no session', async () => {
    const key = keyOf(browser.cookie!)
    const admin = await redis.hget(key, 'd:role')
    await browser.request((s) => s.set('role', 'demoted'))
    await redis.hset(key, 'd:role', admin!)
    await expectNoSession(key)
  })

  it('a value the app removed, put back, reads as no session', async () => {
    const key = keyOf(browser.cookie!)
    await browser.request((s) => s.set('impersonating', 'bob'))
    const impersonating = await redis.hget(key, 'd:impersonating')
    await browser.request((s) => s.delete('impersonating'))
    await redis.hset(key, 'd:impersonating', impersonating!)
    await expectNoSession(key)
  })

  it('a value removed behind Tether reads as no session', async () => {
    const key = keyOf(browser.cookie!)
    await browser.request((s) => s.set('cart', ['book']))
    await redis.hdel(key, 'd:cart')
    await expectNoSession(key)
  })

  it('an established flag set behind Tether reads as no session', async () => {
    const key = keyOf(browser.cookie!)
    await redis.hset(key, 'e', '1')
    await expectNoSession(key)
  })

  it('an older seal put back with the current values reads as no session', async () => {
    const key = keyOf(browser.cookie!)
    const seal = await redis.hget(key, 's')
    await browser.request((s) => s.set('role', 'demoted'))
    await redis.hset(key, 's', seal!)
    await expectNoSession(key)
  })

  it('a whole earlier record put back is refused by a request that saw a later write', async () => {
    const key = keyOf(browser.cookie!)
    const earlier = await redis.hgetall(key)
    await browser.request((s) => s.set('role', 'demoted'))
    // A request holds the demoted session while the earlier record is put back under it.
    const reply = await browser.request(async (s) => {
      const seen = s.get('role')
      await redis.hset(key, earlier)
      s.set('visits', 1)
      return seen
    })
    expect(reply).to.equal('demoted')
    expect(metrics.get('decryptFailures')).to.equal(1)
    expect(await redis.exists(key)).to.equal(0)
    expect(await browser.request((s) => s.isNew)).to.equal(true)
  })

  it('a whole earlier record put back between requests reads as that record (the known limit)', async () => {
    // SECURITY.md: without state outside the store, nothing can tell a consistent earlier record
    // from the current one. This test shows the limit stays as documented.
    const key = keyOf(browser.cookie!)
    const earlier = await redis.hgetall(key)
    await browser.request((s) => s.set('role', 'demoted'))
    await redis.del(key)
    await redis.hset(key, earlier)
    await redis.pexpire(key, 60_000)
    expect(await browser.request((s) => s.get('role'))).to.equal('admin')
    expect(metrics.get('decryptFailures')).to.equal(0)
  })

  it('a record is bound to the route of its cookie: the same token under another route is no session', async () => {
    const key = keyOf(browser.cookie!)
    // Only the secret can sign such a cookie; the record still refuses to serve another route.
    browser.cookie = `tether.sid=${signCookieValue(tokenOf(browser.cookie!), 'w9', new Keyring(SECRET))}`
    await expectNoSession(key)
  })
})
