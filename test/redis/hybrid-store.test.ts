import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { HybridStore, Metrics, SessionManager, type StoredSession } from '@tether/core'
import { expect } from 'chai'
import type { Redis } from 'ioredis'
import { describeDestroyAll, OWNER } from '../suites/destroy-all.js'
import { describePrototypeKeys } from '../suites/prototype-keys.js'
import { describeStoreContract, newStoreId, writeOf } from '../suites/store-contract.js'
import {
  ioredisClient,
  ioredisClusterClient,
  nodeRedisClient,
  nodeRedisClusterClient,
  type TestClient,
} from '../support/redis-clients.js'
import { type RedisClusterHandle, startRedisCluster } from '../support/redis-cluster.js'
import {
  parseCommandStats,
  type RedisServerHandle,
  redisCli,
  sharedRedisServer,
  startRedisServer,
  uniquePrefix,
} from '../support/redis-server.js'
import { SessionBrowser } from '../support/redis-session-client.js'
import { describeWith } from '../support/system-binaries.js'

const SECRET = 'redis-hybrid-test-secret-0123456789abcdef'

/** A ready HybridStore on `client` whose close() closes the client too. */
async function contractStore(client: Promise<TestClient>, prefix: string): Promise<HybridStore> {
  const c = await client
  const store = new HybridStore({ client: c.client as never, prefix: uniquePrefix(prefix) })
  await store.ready()
  const close = store.close.bind(store)
  store.close = async () => {
    await close()
    await c.close()
  }
  return store
}

let cluster: Promise<RedisClusterHandle> | undefined
describeWith('redis-server', 'HybridStore and the SessionStore contract', () => {
  describeStoreContract('HybridStore (ioredis)', async () =>
    contractStore(ioredisClient(await sharedRedisServer()), 'hybrid'),
  )
  describeStoreContract('HybridStore (node-redis v5)', async () =>
    contractStore(nodeRedisClient(await sharedRedisServer()), 'hybrid'),
  )
  describePrototypeKeys('HybridStore (ioredis)', async () =>
    contractStore(ioredisClient(await sharedRedisServer()), 'hybrid'),
  )
  describeDestroyAll('HybridStore (ioredis)', async () => {
    const store = await contractStore(ioredisClient(await sharedRedisServer()), 'hybrid')
    return {
      manager: new SessionManager({ secret: SECRET, store, owner: OWNER }),
      close: () => store.close(),
    }
  })

  for (const [name, connect] of [
    ['ioredis Cluster', ioredisClusterClient],
    ['node-redis cluster', nodeRedisClusterClient],
  ] as const) {
    describeStoreContract(`HybridStore (${name})`, async () => {
      cluster ??= startRedisCluster()
      return contractStore(connect(await cluster), 'hybrid-cluster')
    })
  }
})

/** Polls `check` every 20 ms until it holds, for at most `ms`. */
async function eventually(check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

describeWith('redis-server', 'HybridStore cache', () => {
  let server: RedisServerHandle
  let c: TestClient
  let store: HybridStore
  let metrics: Metrics

  before(async () => {
    // A server of its own, so the command counts below are this file's alone.
    server = await startRedisServer()
    c = await ioredisClient(server)
  })

  after(async () => {
    await c.close()
    await server.stop()
  })

  beforeEach(async () => {
    store = new HybridStore({ client: c.client as never, prefix: uniquePrefix('cache'), maxEntries: 50 })
    metrics = new Metrics()
    store.attachMetrics(metrics)
    await store.ready()
  })

  afterEach(async () => {
    await store.close()
  })

  it('serves reads of a session it wrote from memory: no Redis command, counted as cache hits', async () => {
    const manager = new SessionManager({ secret: SECRET, store, metrics })
    const browser = new SessionBrowser(manager)
    await browser.request((s) => s.set('count', 1))
    await redisCli(server, 'CONFIG', 'RESETSTAT')
    for (let i = 0; i < 10; i++) expect(await browser.request((s) => s.get('count'))).to.equal(1)
    const stats = parseCommandStats(await redisCli(server, 'INFO', 'commandstats'))
    expect(stats).to.not.have.property('hgetall')
    expect(stats).to.not.have.property('evalsha')
    expect(metrics.get('cacheHits')).to.equal(10)
    expect(metrics.get('cacheMisses')).to.equal(0)
  })

  it('fills the cache on a miss and keeps the changes of its own writes', async () => {
    const id = newStoreId()
    await store.redis.write(id, writeOf({ set: { a: '1' } })) // written around the cache
    expect((await store.get(id))?.fields).to.deep.equal({ a: '1' })
    expect(metrics.get('cacheMisses')).to.equal(1)
    await store.write(id, writeOf({ set: { b: '2' }, create: false }))
    expect((await store.get(id))?.fields).to.deep.equal({ a: '1', b: '2' })
    expect(metrics.get('cacheHits')).to.equal(1)
  })

  it('never holds more than maxEntries sessions', async () => {
    for (let i = 0; i < 80; i++) await store.write(newStoreId(), writeOf({ set: { i: String(i) } }))
    expect(store.cached).to.equal(50)
  })

  it('drops a session from the cache when destroyed', async () => {
    const id = newStoreId()
    await store.write(id, writeOf({ set: { a: '1' } }))
    await store.destroy(id)
    expect(await store.get(id)).to.equal(undefined)
    expect(await store.write(id, writeOf({ set: { a: '2' }, create: false }))).to.equal(false)
  })

  it("sees another HybridStore's destroyAll and clear at once", async () => {
    const other = new HybridStore({ client: c.client as never, prefix: store.redis.prefix })
    await other.ready()
    try {
      const owned = newStoreId()
      const plain = newStoreId()
      await store.write(owned, writeOf({ set: { a: '1' }, owner: 'dave' }))
      await store.write(plain, writeOf({ set: { a: '1' } }))
      expect(await store.get(owned)).to.not.equal(undefined)
      expect(await other.destroyAll('dave')).to.deep.equal([owned])
      expect(await store.get(owned)).to.equal(undefined)
      expect(await store.get(plain)).to.not.equal(undefined)
      await other.clear()
      expect(await store.get(plain)).to.equal(undefined)
    } finally {
      await other.close()
    }
  })

  it('goes cold while its invalidation connection is down, and warms up again once it is back', async () => {
    const id = newStoreId()
    await store.write(id, writeOf({ set: { a: '1' } }))
    expect(store.cached).to.equal(1)
    // Kill every pub/sub connection: announcements published now would be lost to this store.
    await redisCli(server, 'CLIENT', 'KILL', 'TYPE', 'pubsub')
    await eventually(() => !store.caching)
    expect(store.cached).to.equal(0)
    // A change made behind its back while it cannot hear about it…
    await store.redis.write(id, writeOf({ set: { a: '2' }, create: false }))
    await (c.client as Redis).hset(store.redis.keyOf(id), 'd:a', '3')
    // …is what it reads, from Redis.
    expect((await store.get(id))?.fields).to.deep.equal({ a: '3' })
    await eventually(() => store.caching)
  })
})

/** A child process with its own HybridStore on the same Redis, driven over IPC. */
class Peer {
  readonly child: ChildProcess
  #seq = 0
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  readonly ready: Promise<unknown>

  constructor(url: string, prefix: string, clusterNodes?: Array<{ host: string; port: number }>) {
    const env: Record<string, string | undefined> = {
      ...process.env,
      PEER_REDIS_URL: url,
      PEER_PREFIX: prefix,
    }
    if (clusterNodes !== undefined) env.PEER_CLUSTER_NODES = JSON.stringify(clusterNodes)
    this.child = fork(fileURLToPath(new URL('./fixtures/hybrid-peer.ts', import.meta.url)), {
      execArgv: ['--import', 'tsx', '--conditions', 'tether-source'],
      env,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    this.ready = new Promise((resolve, reject) => {
      this.#pending.set(0, { resolve, reject })
      this.child.once('exit', (code) => reject(new Error(`peer exited with ${code}`)))
    })
    this.child.on('message', (message: { seq: number; ok: boolean; result: unknown }) => {
      const pending = this.#pending.get(message.seq)
      this.#pending.delete(message.seq)
      if (message.ok) pending?.resolve(message.result)
      else pending?.reject(new Error(String(message.result)))
    })
  }

  send(op: string, id: string, extra: Record<string, unknown> = {}): Promise<unknown> {
    const seq = ++this.#seq
    return new Promise((resolve, reject) => {
      this.#pending.set(seq, { resolve, reject })
      this.child.send({ seq, op, id, ...extra })
    })
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return
    const exited = new Promise((resolve) => this.child.once('exit', resolve))
    await this.send('close', '').catch(() => undefined)
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(timer)
  }
}

for (const topology of ['standalone', 'cluster'] as const) {
  describeWith(
    'redis-server',
    `HybridStore coherence across two processes on one Redis (${topology})`,
    () => {
      let c: TestClient
      let store: HybridStore
      let peer: Peer
      let prefix: string

      before(async function () {
        this.timeout(60_000)
        prefix = uniquePrefix('two')
        if (topology === 'standalone') {
          const server = await sharedRedisServer()
          c = await ioredisClient(server)
          peer = new Peer(server.url, prefix)
        } else {
          cluster ??= startRedisCluster()
          const handle = await cluster
          c = await ioredisClusterClient(handle)
          peer = new Peer('', prefix, handle.nodes)
        }
        store = new HybridStore({ client: c.client as never, prefix })
        await Promise.all([store.ready(), peer.ready])
      })

      after(async () => {
        await peer?.close()
        await store?.close()
        await c?.close()
      })

      it("process B writes, process A's next read sees B's write (200 rounds)", async function () {
        this.timeout(30_000)
        const id = newStoreId()
        await store.write(id, writeOf({ set: { n: '0' } }))
        let stale = 0
        for (let round = 1; round <= 200; round++) {
          // A has the session cached (a hit, no round trip)…
          expect((await store.get(id))?.fields.n).to.be.a('string')
          // …B changes it in its own process…
          expect(await peer.send('write', id, { set: { n: String(round) } })).to.equal(true)
          // …and A's very next read shows B's change.
          const seen = (await store.get(id)) as StoredSession
          if (seen.fields.n !== String(round)) stale++
        }
        expect(stale).to.equal(0)
      })

      it("opens A's cached sessions without waiting, and A's next open after B's write shows it (200 rounds)", async function () {
        this.timeout(30_000)
        // Unencrypted, so the peer can write values the way the core encodes them (JSON).
        const manager = new SessionManager({ secret: SECRET, store, encrypt: false })
        const browser = new SessionBrowser(manager)
        const before = new Set(await store.ids())
        await browser.request((s) => s.set('n', 0))
        const id = (await store.ids()).find((i) => !before.has(i))!
        /** Opens the session as the adapters do: at once when it can, else by waiting. */
        const open = async () => {
          const now = manager.openNow(browser.cookie)
          const ctx = now ?? (await manager.open(browser.cookie))
          try {
            return { n: ctx.session.get('n'), atOnce: now !== undefined }
          } finally {
            ctx.release()
          }
        }
        let stale = 0
        let atOnce = 0
        const rounds = 200
        for (let round = 1; round <= rounds; round++) {
          // B changes the session in its own process…
          expect(await peer.send('write', id, { set: { n: String(round) } })).to.equal(true)
          // …A's very next open shows it…
          if ((await open()).n !== round) stale++
          // …and A's open after that, with nothing changed, comes from its cache without waiting.
          const again = await open()
          if (again.n !== round) stale++
          if (again.atOnce) atOnce++
        }
        expect(stale, 'opens that showed an older value').to.equal(0)
        expect(atOnce, 'unchanged opens served from the cache without waiting').to.be.at.least(rounds * 0.9)
      })

      it("keeps the copy A read after B's change: later deliveries of the same announcement do not drop it", async () => {
        // In a cluster A listens on every master, so each announcement reaches it once from the
        // master that ran the change and again, later, from every other master over the cluster bus.
        const metrics = new Metrics()
        store.attachMetrics(metrics)
        const id = newStoreId()
        await store.write(id, writeOf({ set: { n: '0' } }))
        const rounds = 20
        let kept = 0
        for (let round = 1; round <= rounds; round++) {
          await peer.send('write', id, { set: { n: String(round) } })
          expect((await store.get(id))?.fields.n, `round ${round}: A after B`).to.equal(String(round))
          // Time for the other masters' copies of B's announcement to arrive.
          await new Promise((resolve) => setTimeout(resolve, 30))
          const hits = metrics.get('cacheHits')
          expect((await store.get(id))?.fields.n).to.equal(String(round))
          if (metrics.get('cacheHits') === hits + 1) kept++
        }
        expect(kept, 'rounds whose second read A served from its cache').to.equal(rounds)
      })

      it("process B destroys (a logout on another node), process A's next read finds nothing", async () => {
        for (let round = 0; round < 50; round++) {
          const id = newStoreId()
          await store.write(id, writeOf({ set: { user: '"alice"' } }))
          expect(await store.get(id)).to.not.equal(undefined)
          await peer.send('destroy', id)
          expect(await store.get(id)).to.equal(undefined)
          // And A's in-flight request cannot bring it back.
          expect(await store.write(id, writeOf({ set: { late: '1' }, create: false }))).to.equal(false)
        }
      })

      it("A's own writes after B's change keep B's keys (atomic per-key writes under the cache)", async () => {
        const id = newStoreId()
        await store.write(id, writeOf({ set: { a: '1' } }))
        await peer.send('write', id, { set: { b: '2' } })
        await store.write(id, writeOf({ set: { c: '3' }, create: false }))
        expect((await store.get(id))?.fields).to.deep.equal({ a: '1', b: '2', c: '3' })
        expect(await peer.send('get', id)).to.deep.include({ fields: { a: '1', b: '2', c: '3' } })
      })
    },
  )
}

describeWith(
  'redis-server',
  'HybridStore behind two app processes (misrouted or failed-over requests)',
  () => {
    const children: ChildProcess[] = []

    after(async () => {
      for (const child of children) {
        const exited = new Promise((resolve) => child.once('exit', resolve))
        child.kill('SIGTERM')
        await exited
      }
    })

    async function startApp(url: string, prefix: string): Promise<string> {
      const child = fork(fileURLToPath(new URL('./fixtures/hybrid-app.ts', import.meta.url)), {
        execArgv: ['--import', 'tsx', '--conditions', 'tether-source'],
        env: { ...process.env, APP_REDIS_URL: url, APP_PREFIX: prefix },
      })
      children.push(child)
      const port = await new Promise<number>((resolve, reject) => {
        child.once('message', (m: { port: number }) => resolve(m.port))
        child.once('exit', (code) => reject(new Error(`app exited with ${code}`)))
      })
      return `http://127.0.0.1:${port}`
    }

    it('never answers from a stale cache when requests of one session alternate between processes', async function () {
      this.timeout(30_000)
      const server = await sharedRedisServer()
      const prefix = uniquePrefix('apps')
      const [a, b] = await Promise.all([startApp(server.url, prefix), startApp(server.url, prefix)])
      const first = await fetch(`${a}/count`)
      const cookie = first.headers.get('set-cookie')!.split(';')[0]!
      expect(((await first.json()) as { count: number }).count).to.equal(1)
      const pids = new Set<number>()
      const count = async (base: string) => {
        const res = await fetch(`${base}/count`, { headers: { cookie } })
        return (await res.json()) as { count: number; pid: number }
      }
      // Every request goes to the other process than the one before: each must see the last write.
      for (let i = 2; i <= 101; i++) {
        const body = await count(i % 2 === 0 ? b : a)
        expect(body.count, `request ${i}`).to.equal(i)
        pids.add(body.pid)
      }
      expect(pids.size).to.equal(2)
      const stats = async (base: string) =>
        (await (await fetch(`${base}/stats`)).json()) as { caching: boolean; hits: number }
      const hitsBefore = (await stats(a)).hits
      // Back under affinity: after one round to re-register, A serves the session from its cache.
      for (let i = 102; i <= 111; i++) expect((await count(a)).count).to.equal(i)
      expect((await stats(a)).hits - hitsBefore).to.be.at.least(8)
      expect((await stats(a)).caching).to.equal(true)
      expect((await stats(b)).caching).to.equal(true)
    })
  },
)

for (const [name, connect] of [
  ['node-redis cluster', nodeRedisClusterClient],
  ['ioredis Cluster', ioredisClusterClient],
] as const) {
  describeWith('redis-server', `HybridStore on a ${name} whose topology changes`, function () {
    this.timeout(120_000)
    let handle: RedisClusterHandle | undefined
    let a: TestClient | undefined
    let b: TestClient | undefined
    let storeA: HybridStore | undefined
    let storeB: HybridStore | undefined
    after(async () => {
      await storeA?.close()
      await storeB?.close()
      await a?.close()
      await b?.close()
      await handle?.stop()
    })

    it('goes cold when a master joins, listens on it too, and still sees every other writer', async () => {
      // A cluster of its own: this test changes its topology.
      handle = await startRedisCluster()
      const prefix = uniquePrefix('topology')
      a = await connect(handle)
      b = await connect(handle)
      storeA = new HybridStore({ client: a.client as never, prefix, resyncInterval: 200 })
      storeB = new HybridStore({ client: b.client as never, prefix, resyncInterval: 200 })
      await Promise.all([storeA.ready(), storeB.ready()])
      const added = await handle.addMaster(8192)
      const listeners = async () =>
        Number((await redisCli(added, 'PUBSUB', 'NUMSUB', `${prefix}invalidate`)).trim().split('\n')[1])
      expect(await listeners()).to.equal(0)

      // The client learns the new topology from a MOVED reply: sessions written now soon land on the
      // moved slots. Each HybridStore must notice, go cold, and subscribe on the new master too.
      const ids: string[] = []
      const deadline = Date.now() + 30_000
      while ((await listeners()) < 2 || !storeA.caching || !storeB.caching) {
        if (Date.now() > deadline) throw new Error(`still ${await listeners()} listeners on the new master`)
        for (const store of [storeA, storeB]) {
          const id = newStoreId()
          await store.write(id, writeOf({ set: { n: '0' } }))
          ids.push(id)
        }
        await new Promise((resolve) => setTimeout(resolve, 50))
      }

      // Coherence over every session, the new master's included: B writes, A's next read sees it.
      for (const [round, id] of ids.slice(0, 40).entries()) {
        await storeA.get(id) // cached in A
        await storeB.write(id, writeOf({ set: { n: String(round + 1) }, create: false }))
        expect((await storeA.get(id))?.fields.n, `session ${round}`).to.equal(String(round + 1))
      }
    })
  })
}
