// Races a user's requests can run into, through both adapters over real HTTP, on each store:
// parallel writes to different keys, a logout racing a slow request, regenerate racing a request
// that still uses the old cookie, and (with a shared store) two workers writing one session after
// a failover. Gates hold requests inside their handlers, so the order is chosen, not hoped for.
import { HybridStore, MemoryStore, RedisStore, type SessionStore } from '@tether/core'
import { expect } from 'chai'
import { type Shop, startShop } from '../suites/shop.js'
import { type AdapterDriver, DRIVERS } from '../support/adapter-drivers.js'
import { ioredisClient, type TestClient } from '../support/redis-clients.js'
import { sharedRedisServer, uniquePrefix } from '../support/redis-server.js'
import { cookieFrom } from '../support/session-cookie.js'
import { describeWith } from '../support/system-binaries.js'

type StoreKind = 'MemoryStore' | 'RedisStore' | 'HybridStore'

/** Stores of one kind over one Redis prefix: several of them are several workers sharing Redis. */
class StoreFactory {
  readonly #prefix: string
  readonly #clients: TestClient[] = []
  readonly #stores: SessionStore[] = []

  constructor(readonly kind: StoreKind) {
    this.#prefix = uniquePrefix(`races-${kind}`)
  }

  async make(): Promise<SessionStore> {
    let store: SessionStore
    if (this.kind === 'MemoryStore') store = new MemoryStore()
    else {
      const c = await ioredisClient(await sharedRedisServer())
      this.#clients.push(c)
      if (this.kind === 'RedisStore')
        store = new RedisStore({ client: c.client as never, prefix: this.#prefix })
      else {
        const hybrid = new HybridStore({ client: c.client as never, prefix: this.#prefix })
        await hybrid.ready()
        store = hybrid
      }
    }
    this.#stores.push(store)
    return store
  }

  async close(): Promise<void> {
    for (const store of this.#stores) await store.close()
    for (const c of this.#clients) await c.close()
  }
}

function describeRaces(driver: AdapterDriver, kind: StoreKind): void {
  describe(`${driver.name} on ${kind}: races`, () => {
    let stores: StoreFactory
    const shops: Shop[] = []
    const start = async () => {
      const shop = await startShop(driver, { store: (await stores.make()) as never })
      shops.push(shop)
      return shop
    }
    beforeEach(() => {
      stores = new StoreFactory(kind)
    })
    afterEach(async () => {
      for (const shop of shops.splice(0)) await shop.close()
      await stores.close()
    })

    it('30 parallel requests writing different keys of one session all land', async () => {
      const shop = await start()
      const cookie = cookieFrom(await shop.app.get('/set?key=start').expect(200))
      const responses = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          shop.app.get(`/set-later?key=k${i}&ms=${(i * 7) % 20}`).set('Cookie', cookie),
        ),
      )
      for (const res of responses) expect(res.status).to.equal(200)
      const read = await shop.app.get('/read').set('Cookie', cookie).expect(200)
      expect(Object.keys(read.body.values).sort()).to.deep.equal(
        ['start', ...Array.from({ length: 30 }, (_, i) => `k${i}`)].sort(),
      )
    })

    it('a logout racing a slow request: the slow write does not bring the session back', async () => {
      const shop = await start()
      const cookie = cookieFrom(await shop.app.get('/set?key=cart&value=1').expect(200))
      const slow = shop.app
        .get('/gated-set?gate=slow&key=late')
        .set('Cookie', cookie)
        .then((res) => res)
      await shop.gates.reached('slow')
      await shop.app.post('/logout').set('Cookie', cookie).expect(204)
      shop.gates.open('slow')
      expect((await slow).status).to.equal(200)
      const read = await shop.app.get('/read').set('Cookie', cookie).expect(200)
      expect(read.body).to.deep.equal({ isNew: true, values: {} })
    })

    it('regenerate racing a request with the old cookie: the old cookie stays dead, the new one works', async () => {
      const shop = await start()
      const before = cookieFrom(await shop.app.get('/set?key=cart&value=1').expect(200))
      const slow = shop.app
        .get('/gated-set?gate=old&key=late')
        .set('Cookie', before)
        .then((res) => res)
      await shop.gates.reached('old')
      const after = cookieFrom(await shop.app.post('/login').set('Cookie', before).expect(302))
      expect(after).to.not.equal(before)
      shop.gates.open('old')
      expect((await slow).status).to.equal(200)
      const old = await shop.app.get('/read').set('Cookie', before).expect(200)
      expect(old.body).to.deep.equal({ isNew: true, values: {} })
      const fresh = await shop.app.get('/read').set('Cookie', after).expect(200)
      expect(fresh.body.isNew).to.equal(false)
      expect(fresh.body.values).to.deep.include({ cart: 1, user: { id: 42, role: 'user' } })
    })

    if (kind !== 'MemoryStore') {
      it('two workers writing one session after a failover keep both writes', async () => {
        // Worker A holds a slow request of the session when its requests move to worker B.
        const a = await start()
        const b = await start()
        const cookie = cookieFrom(await a.app.get('/set?key=count&value=1').expect(200))
        const slow = a.app
          .get('/gated-set?gate=slow&key=fromA')
          .set('Cookie', cookie)
          .then((res) => res)
        await a.gates.reached('slow')
        await b.app.get('/set?key=fromB&value=2').set('Cookie', cookie).expect(200)
        await b.app.get('/incr').set('Cookie', cookie).expect(200)
        a.gates.open('slow')
        expect((await slow).status).to.equal(200)
        // Each worker wrote only the keys it changed: neither write undid the other.
        for (const shop of [a, b]) {
          const read = await shop.app.get('/read').set('Cookie', cookie).expect(200)
          expect(read.body.values).to.deep.equal({ count: 2, fromA: true, fromB: 2 })
        }
      })
    }
  })
}

describe('races on MemoryStore', () => {
  for (const driver of DRIVERS) describeRaces(driver, 'MemoryStore')
})

describeWith('redis-server', 'races on RedisStore and HybridStore', () => {
  for (const driver of DRIVERS) {
    describeRaces(driver, 'RedisStore')
    describeRaces(driver, 'HybridStore')
  }
})
