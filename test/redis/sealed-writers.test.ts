// Several processes writing one session over one Redis (a failover, several nodes without
// affinity): every write reseals the whole record, so writers that raced must merge their seals,
// not leave a record that no longer verifies. Each SessionManager here stands for one process,
// with its own client, store and live sessions.
import {
  fromExpressSessionStore,
  HybridStore,
  Metrics,
  RedisStore,
  SessionManager,
  type SessionStore,
} from '@tether/core'
import { expect } from 'chai'
import { RedisStore as ConnectRedisStore } from 'connect-redis'
import { ioredisClient, nodeRedisClient, type TestClient } from '../support/redis-clients.js'
import { sharedRedisServer, uniquePrefix } from '../support/redis-server.js'
import { SessionBrowser } from '../support/redis-session-client.js'
import { describeWith } from '../support/system-binaries.js'

const SECRET = 'sealed-writers-secret-0123456789abcdef01'
const PROCESSES = 3
const REQUESTS = 60

type Kind = 'RedisStore' | 'HybridStore' | 'connect-redis'

describeWith('redis-server', 'writers in several processes over one Redis keep a sealed record', () => {
  const clients: TestClient[] = []
  const stores: SessionStore[] = []

  after(async () => {
    for (const store of stores.splice(0)) await store.close()
    for (const c of clients.splice(0)) await c.close()
  })

  async function processes(kind: Kind): Promise<{ managers: SessionManager[]; metrics: Metrics }> {
    const prefix = uniquePrefix(`sealed-${kind}`)
    const metrics = new Metrics()
    const managers: SessionManager[] = []
    for (let i = 0; i < PROCESSES; i++) {
      let store: SessionStore
      if (kind === 'connect-redis') {
        const c = await nodeRedisClient(await sharedRedisServer())
        clients.push(c)
        store = fromExpressSessionStore(new ConnectRedisStore({ client: c.client as never, prefix }))
      } else {
        const c = await ioredisClient(await sharedRedisServer())
        clients.push(c)
        if (kind === 'RedisStore') store = new RedisStore({ client: c.client as never, prefix })
        else {
          const hybrid = new HybridStore({ client: c.client as never, prefix })
          await hybrid.ready()
          store = hybrid
        }
      }
      stores.push(store)
      managers.push(new SessionManager({ secret: SECRET, store, metrics, route: `w${i}`, encrypt: true }))
    }
    return { managers, metrics }
  }

  /** One signed-in session, then REQUESTS parallel requests spread over the processes, each setting its own key. */
  async function parallelWriters(managers: SessionManager[]): Promise<SessionBrowser> {
    const browser = new SessionBrowser(managers[0]!)
    await browser.request((s) => s.set('owner', 'alice'))
    await Promise.all(
      Array.from({ length: REQUESTS }, (_, i) =>
        browser.request((s) => s.set(`k${i}`, i), managers[i % PROCESSES]),
      ),
    )
    return browser
  }

  for (const kind of ['RedisStore', 'HybridStore'] as const) {
    it(`${kind}: ${REQUESTS} parallel requests over ${PROCESSES} processes, each setting its own key, all land`, async () => {
      const { managers, metrics } = await processes(kind)
      const browser = await parallelWriters(managers)
      for (const manager of managers) {
        const keys = await browser.request((s) => s.keys(), manager)
        expect(keys).to.have.length(REQUESTS + 1)
      }
      expect(metrics.get('decryptFailures')).to.equal(0)
    })
  }

  it('connect-redis (whole-session writes): a lost change at worst, never an unreadable record', async () => {
    const { managers, metrics } = await processes('connect-redis')
    const browser = await parallelWriters(managers)
    for (const manager of managers) {
      expect(await browser.request((s) => s.get('owner'), manager)).to.equal('alice')
    }
    expect(metrics.get('decryptFailures')).to.equal(0)
  })
})
