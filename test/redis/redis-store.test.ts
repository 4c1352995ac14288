import { RedisStore, SessionManager } from '@tether/core'
import { expect } from 'chai'
import sinon from 'sinon'
import { describeDestroyAll, OWNER } from '../suites/destroy-all.js'
import { describePrototypeKeys } from '../suites/prototype-keys.js'
import { describeStoreContract, newStoreId, writeOf } from '../suites/store-contract.js'
import {
  type ClientKind,
  ioredisClient,
  ioredisClusterClient,
  nodeRedisClient,
  nodeRedisClusterClient,
  type TestClient,
} from '../support/redis-clients.js'
import { type RedisClusterHandle, startRedisCluster } from '../support/redis-cluster.js'
import { sharedRedisServer, uniquePrefix } from '../support/redis-server.js'
import { SessionBrowser } from '../support/redis-session-client.js'
import { storeIdOfCookie } from '../support/session-cookie.js'
import { describeWith } from '../support/system-binaries.js'

const SECRET = 'redis-store-test-secret-0123456789abcdef'

let cluster: Promise<RedisClusterHandle> | undefined
function sharedCluster(): Promise<RedisClusterHandle> {
  cluster ??= startRedisCluster()
  return cluster
}

const makers: Record<ClientKind, () => Promise<TestClient>> = {
  ioredis: async () => ioredisClient(await sharedRedisServer()),
  'node-redis': async () => nodeRedisClient(await sharedRedisServer()),
  'ioredis-cluster': async () => ioredisClusterClient(await sharedCluster()),
  'node-redis-cluster': async () => nodeRedisClusterClient(await sharedCluster()),
}

/** A contract-suite store that closes its own client with it. */
async function contractStore(kind: ClientKind): Promise<RedisStore> {
  const c = await makers[kind]()
  const store = new RedisStore({ client: c.client as never, prefix: uniquePrefix('contract') })
  const close = store.close.bind(store)
  store.close = async () => {
    await close()
    await c.close()
  }
  return store
}

describeWith('redis-server', 'RedisStore and the SessionStore contract', () => {
  describeStoreContract('RedisStore (ioredis)', () => contractStore('ioredis'))
  describeStoreContract('RedisStore (node-redis v5)', () => contractStore('node-redis'))
  describeStoreContract('RedisStore (ioredis Cluster)', () => contractStore('ioredis-cluster'))
  describePrototypeKeys('RedisStore (ioredis)', () => contractStore('ioredis'))
  for (const kind of ['ioredis', 'ioredis-cluster'] as const) {
    describeDestroyAll(`RedisStore (${kind})`, async () => {
      const store = await contractStore(kind)
      return {
        manager: new SessionManager({ secret: SECRET, store, owner: OWNER }),
        close: () => store.close(),
      }
    })
  }
})

describeWith('redis-server', 'RedisStore options', () => {
  it('rejects a missing or unknown client, naming the option', () => {
    expect(() => new RedisStore({ client: undefined as never })).to.throw(TypeError, /^client must be/)
    expect(() => new RedisStore({ client: {} as never })).to.throw(TypeError, /^client must be/)
  })

  it('rejects a prefix that would break hash tags or SCAN patterns', async () => {
    const c = await makers.ioredis()
    try {
      for (const prefix of ['a{', 'b}', 'c*', 5]) {
        expect(() => new RedisStore({ client: c.client as never, prefix: prefix as never })).to.throw(
          TypeError,
          /^prefix must be/,
        )
      }
      expect(() => new RedisStore({ client: c.client as never, timeout: 0 })).to.throw(
        TypeError,
        /^timeout must be/,
      )
    } finally {
      await c.close()
    }
  })
})

describeWith('redis-server', 'RedisStore expiry follows the SessionManager timeouts', () => {
  let c: TestClient
  let clock: sinon.SinonFakeTimers | undefined

  before(async () => {
    c = await makers.ioredis()
  })

  afterEach(() => {
    clock?.restore()
    clock = undefined
  })

  after(async () => {
    await c.close()
  })

  async function ttlAfterFirstWrite(idleTimeout: number, absoluteTimeout: number): Promise<number> {
    const store = new RedisStore({ client: c.client as never, prefix: uniquePrefix('ttl') })
    const browser = new SessionBrowser(
      new SessionManager({ secret: SECRET, store, idleTimeout, absoluteTimeout }),
    )
    await browser.request((s) => s.set('a', 1))
    const [id] = await store.ids()
    return Number(await store_send(c, store.keyOf(id!), ['PTTL', store.keyOf(id!)]))
  }

  it('is the idle timeout after a write', async () => {
    expect(await ttlAfterFirstWrite(60_000, 3_600_000)).to.be.within(59_000, 60_000)
  })

  it('is capped by the absolute timeout', async () => {
    expect(await ttlAfterFirstWrite(60_000, 20_000)).to.be.within(19_000, 20_000)
  })

  it('slides with a touch once the touch is due, and not before', async () => {
    clock = sinon.useFakeTimers({ now: Date.now(), toFake: ['Date'] })
    const store = new RedisStore({ client: c.client as never, prefix: uniquePrefix('touch') })
    const manager = new SessionManager({ secret: SECRET, store, idleTimeout: 60_000, touchAfter: 0.5 })
    const browser = new SessionBrowser(manager)
    await browser.request((s) => s.set('a', 1))
    const [id] = await store.ids()
    const first = (await store.read(id!))!.expiresAt
    clock.tick(10_000) // less than half the idle window: no write at all
    await browser.request((s) => s.get('a'))
    expect((await store.read(id!))!.expiresAt).to.equal(first)
    clock.tick(25_000) // past half of it: the read touches
    await browser.request((s) => s.get('a'))
    const touched = await store.read(id!)
    expect(touched!.expiresAt).to.equal(first + 35_000)
    expect(touched!.session.touchedAt).to.equal(Date.now())
    const ttl = Number(await store_send(c, store.keyOf(id!), ['PTTL', store.keyOf(id!)]))
    expect(ttl).to.be.within(59_000, 60_000)
  })
})

for (const kind of Object.keys(makers) as ClientKind[]) {
  describeWith('redis-server', `RedisStore with ${kind}`, () => {
    let c: TestClient
    let store: RedisStore
    let manager: SessionManager

    before(async function () {
      this.timeout(60_000)
      c = await makers[kind]()
    })

    beforeEach(() => {
      store = new RedisStore({ client: c.client as never, prefix: uniquePrefix(kind) })
      manager = new SessionManager({ secret: SECRET, store, owner: (s) => s.get('user') as string })
    })

    after(async () => {
      await c?.close()
    })

    it('keeps a session in one hash under <prefix>{<store id>}, with the expiry as its TTL', async () => {
      const id = newStoreId()
      const write = writeOf({ set: { a: '1' }, expiresAt: Date.now() + 60_000 })
      await store.write(id, write)
      const ttl = Number(await store_send(c, store.keyOf(id), ['PTTL', store.keyOf(id)]))
      expect(ttl).to.be.within(59_000, 60_000)
      const hash = await store_send(c, store.keyOf(id), ['HGETALL', store.keyOf(id)])
      expect(toObject(hash)).to.deep.equal({
        c: String(write.createdAt),
        t: String(write.touchedAt),
        x: String(write.expiresAt),
        'd:a': '1',
      })
    })

    it('keeps both changes when two processes change different keys of one session at once', async () => {
      const browser = new SessionBrowser(manager)
      await browser.request((s) => s.set('base', 0))
      // Two managers stand for two processes: each loads its own copy, then both commit.
      const other = new SessionManager({ secret: SECRET, store })
      const [a, b] = await Promise.all([manager.open(browser.cookie), other.open(browser.cookie)])
      a.session.set('left', 1)
      b.session.set('right', 2)
      await Promise.all([a.commit(false), b.commit(false)])
      a.release()
      b.release()
      const values = await browser.request((s) => Object.fromEntries(s.keys().map((k) => [k, s.get(k)])))
      expect(values).to.deep.equal({ base: 0, left: 1, right: 2 })
    })

    it("reads another process's change after this one read the session (decrypted text is reused only for the same envelope)", async () => {
      const browser = new SessionBrowser(manager)
      await browser.request((s) => {
        s.set('user', 'alice')
        s.set('cart', ['tea'])
      })
      const other = new SessionManager({ secret: SECRET, store })
      const read = () => browser.request((s) => Object.fromEntries(s.keys().map((k) => [k, s.get(k)])))
      expect(await read()).to.deep.equal({ user: 'alice', cart: ['tea'] })
      await browser.request((s) => s.set('cart', ['tea', 'mug']), other)
      expect(await read()).to.deep.equal({ user: 'alice', cart: ['tea', 'mug'] })
      await browser.request((s) => s.delete('cart'), other)
      expect(await read()).to.deep.equal({ user: 'alice' })
    })

    it('reads a field changed in Redis as no session, though its earlier value was just read and decrypted', async () => {
      const browser = new SessionBrowser(manager)
      const victim = new SessionBrowser(manager)
      await browser.request((s) => s.set('user', 'mallory'))
      await victim.request((s) => s.set('user', 'alice'))
      expect(await browser.request((s) => s.get('user'))).to.equal('mallory')
      const key = (b: SessionBrowser) => store.keyOf(storeIdOfCookie(b.cookie!))
      // Alice's sealed value pasted into mallory's session: it names another session, so it fails.
      const alices = toObject(await store_send(c, key(victim), ['HGETALL', key(victim)]))['d:user']!
      await store_send(c, key(browser), ['HSET', key(browser), 'd:user', alices])
      expect(await browser.request((s) => s.get('user'))).to.equal(undefined)
      expect(manager.metrics.get('decryptFailures')).to.equal(1)
      // One character of alice's own envelope changed after she was read: tampered, not alice.
      expect(await victim.request((s) => s.get('user'))).to.equal('alice')
      const flipped = alices.slice(0, -2) + (alices.at(-2) === 'A' ? 'B' : 'A') + alices.at(-1)
      await store_send(c, key(victim), ['HSET', key(victim), 'd:user', flipped])
      expect(await victim.request((s) => s.get('user'))).to.equal(undefined)
      expect(manager.metrics.get('decryptFailures')).to.equal(2)
    })

    it('loses no increment of one key under 50 concurrent requests inside the owner process', async () => {
      const browser = new SessionBrowser(manager)
      await browser.request((s) => s.set('count', 0))
      await Promise.all(
        Array.from({ length: 50 }, () =>
          browser.request((s) => s.set('count', (s.get('count') as number) + 1)),
        ),
      )
      expect(await browser.request((s) => s.get('count'))).to.equal(50)
    })

    it('does not let a request that loaded the session before a logout bring it back', async () => {
      const browser = new SessionBrowser(manager)
      await browser.request((s) => s.set('user', 'alice'))
      const slow = new SessionManager({ secret: SECRET, store })
      const inFlight = await slow.open(browser.cookie)
      await browser.request((s) => s.destroy())
      inFlight.session.set('cart', ['late item'])
      await inFlight.commit(false)
      inFlight.release()
      expect(await store.ids()).to.deep.equal([])
      expect(await browser.request((s) => s.keys())).to.deep.equal([])
    })

    it('never revives an expired session: writes and touches after expiry find nothing', async () => {
      const id = newStoreId()
      await store.write(id, writeOf({ set: { a: '1' }, expiresAt: Date.now() + 100 }))
      await new Promise((resolve) => setTimeout(resolve, 250))
      expect(await store.touch(id, Date.now(), Date.now() + 60_000)).to.equal(false)
      expect(await store.write(id, writeOf({ set: { a: '2' }, create: false }))).to.equal(false)
      expect(await store.get(id)).to.equal(undefined)
    })

    it('lists and clears its own sessions by SCAN, leaving other prefixes alone', async () => {
      const other = new RedisStore({ client: c.client as never, prefix: uniquePrefix('other') })
      const ids = [newStoreId(), newStoreId(), newStoreId()]
      for (const id of ids) await store.write(id, writeOf({ set: { a: '1' } }))
      const foreign = newStoreId()
      await other.write(foreign, writeOf({ set: { a: '1' } }))
      expect((await store.ids()).sort()).to.deep.equal([...ids].sort())
      await store.clear()
      expect(await store.ids()).to.deep.equal([])
      expect(await other.ids()).to.deep.equal([foreign])
      await other.clear()
    })

    it('indexes sessions by owner and ends them all at once (log out everywhere)', async () => {
      const phone = new SessionBrowser(manager)
      const laptop = new SessionBrowser(manager)
      const stranger = new SessionBrowser(manager)
      await phone.request((s) => s.set('user', 'alice'))
      await laptop.request((s) => s.set('user', 'alice'))
      await stranger.request((s) => s.set('user', 'bob'))
      expect(await store.sessionsOf('alice')).to.have.length(2)
      // A request of the laptop still in flight while alice logs out everywhere.
      const inFlight = await manager.open(laptop.cookie)
      expect(await store.destroyAll('alice')).to.have.length(2)
      inFlight.session.set('late', true)
      await inFlight.commit(false)
      inFlight.release()
      expect(await store.sessionsOf('alice')).to.deep.equal([])
      expect(await phone.request((s) => s.get('user'))).to.equal(undefined)
      expect(await laptop.request((s) => s.keys())).to.deep.equal([])
      expect(await stranger.request((s) => s.get('user'))).to.equal('bob')
      expect(await store.sessionsOf('bob')).to.have.length(1)
    })

    it('leaves a session alone that a stale index entry lists but another user now owns', async () => {
      const id = newStoreId()
      await store.write(id, writeOf({ set: { a: '1' }, owner: 'erin' }))
      await store.write(id, writeOf({ set: { a: '2' }, owner: 'frank', create: false }))
      expect(await store.destroyAll('erin')).to.deep.equal([])
      expect((await store.get(id))?.fields).to.deep.equal({ a: '2' })
      expect(await store.sessionsOf('frank')).to.deep.equal([id])
    })

    it('keeps the user index consistent with destroy and expiry', async () => {
      const kept = newStoreId()
      const destroyed = newStoreId()
      const expiring = newStoreId()
      const now = Date.now()
      await store.write(kept, writeOf({ set: { a: '1' }, owner: 'carol' }))
      await store.write(destroyed, writeOf({ set: { a: '1' }, owner: 'carol' }))
      await store.write(expiring, writeOf({ set: { a: '1' }, owner: 'carol', expiresAt: now + 100 }))
      await store.destroy(destroyed)
      await new Promise((resolve) => setTimeout(resolve, 250))
      expect(await store.sessionsOf('carol')).to.deep.equal([kept])
      // A touch carries the index along: the entry does not expire before the session.
      expect(await store.touch(kept, Date.now(), Date.now() + 120_000)).to.equal(true)
      const score = await store_send(c, store.userKeyOf('carol'), ['ZSCORE', store.userKeyOf('carol'), kept])
      expect(Number(score)).to.be.greaterThan(Date.now() + 100_000)
    })
  })
}

/** Sends a raw command through the test's client, routed by key for clusters. */
function store_send(c: TestClient, key: string, args: string[]): Promise<unknown> {
  const client = c.client as unknown as {
    call?: (...a: string[]) => Promise<unknown>
    sendCommand: (...a: unknown[]) => Promise<unknown>
  }
  if (c.kind === 'ioredis' || c.kind === 'ioredis-cluster') return client.call!(...args)
  if (c.kind === 'node-redis-cluster') return client.sendCommand(key, true, args)
  return client.sendCommand(args)
}

function toObject(reply: unknown): Record<string, string> {
  if (Array.isArray(reply)) {
    const out: Record<string, string> = {}
    for (let i = 0; i < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1])
    return out
  }
  return { ...(reply as Record<string, string>) }
}
