// A Redis Cluster replica failover: the master serving a session's hash slot crashes (SIGKILL) and
// its replica is promoted. RedisStore and HybridStore, on an ioredis Cluster and on a node-redis
// createCluster, must come through it: while the slot has no master a request may fail with
// ERR_TETHER_STORE_UNAVAILABLE (a 503), never hang or crash the process; afterwards the session
// written before the crash reads back, new writes land on the promoted master, and a HybridStore
// never serves a copy that another process has changed since.
import { HybridStore, isTetherError, Metrics, RedisStore, SessionManager } from '@tether/core'
import { expect } from 'chai'
import type { Cluster } from 'ioredis'
import { ioredisClusterClient, nodeRedisClusterClient, type TestClient } from '../support/redis-clients.js'
import {
  type RedisClusterHandle,
  type RedisNodeAddress,
  startRedisCluster,
} from '../support/redis-cluster.js'
import { redisCli, uniquePrefix } from '../support/redis-server.js'
import { SessionBrowser } from '../support/redis-session-client.js'
import { describeWith } from '../support/system-binaries.js'

const SECRET = 'redis-failover-test-secret-0123456789abcdef'
/** A request still pending after this long is hung: the store's own timeout is 2 s per call. */
const HANG_MS = 10_000
/** How long requests may keep failing after the harness saw the failover complete. */
const RECOVERY_MS = 20_000

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** `promise`'s outcome, or a test failure naming `what` if it has not settled within `ms`. */
async function settledWithin<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  let timer: NodeJS.Timeout | undefined
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: hung for ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([
      promise.then(
        (value) => ({ ok: true as const, value }),
        (error: unknown) => ({ ok: false as const, error }),
      ),
      hung,
    ])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Repeats `request` until it succeeds, for at most RECOVERY_MS. A store failure
 * (ERR_TETHER_STORE_UNAVAILABLE) is allowed meanwhile; any other error, or a hang, fails the test.
 */
async function untilServed<T>(what: string, request: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + RECOVERY_MS
  let failures = 0
  for (;;) {
    const outcome = await settledWithin(request(), HANG_MS, what)
    if (outcome.ok) return outcome.value
    if (!isTetherError(outcome.error, 'ERR_TETHER_STORE_UNAVAILABLE')) throw outcome.error
    failures++
    if (Date.now() > deadline) {
      throw new Error(
        `${what}: still failing ${RECOVERY_MS} ms after the failover (${failures} attempts), last: ${String(outcome.error)}`,
      )
    }
    await sleep(200)
  }
}

/** Polls `check` every 100 ms until it holds, for at most `ms`; fails naming `what`. */
async function eventually(what: string, check: () => Promise<boolean>, ms = RECOVERY_MS): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`)
    await sleep(100)
  }
}

/**
 * Redis replication is asynchronous: a write the master acknowledged may not have reached its
 * replica when the master crashes, and would be lost by the failover, whatever the client does.
 * WAIT 1 on the connection that wrote blocks until the replica has acknowledged every write made
 * so far (or 5 s passed) and answers how many replicas did, so the session is on the replica
 * before the crash: what these tests check is the recovery of the clients and stores.
 */
async function waitForReplica(c: TestClient, cluster: RedisClusterHandle, key: string): Promise<number> {
  if (c.kind === 'ioredis-cluster') {
    // WAIT has no key to route by: send it on the pool's connection to the slot's master.
    const { port } = await cluster.masterOf(key)
    const node = (c.client as Cluster).nodes('master').find((n) => n.options.port === port)
    if (node === undefined) throw new Error(`the ioredis Cluster has no connection to master ${port}`)
    return Number(await node.call('WAIT', '1', '5000'))
  }
  // node-redis routes by the first-key argument: the slot master's connection, which wrote.
  const client = c.client as unknown as {
    sendCommand(key: string, readonly: boolean, args: string[]): Promise<unknown>
  }
  return Number(await client.sendCommand(key, false, ['WAIT', '1', '5000']))
}

/** Whether the session hash `key` has field `name` on `node` (asked directly, no client routing). */
async function hasField(node: RedisNodeAddress, key: string, name: string): Promise<boolean> {
  return (await redisCli(node, 'HEXISTS', key, `d:${name}`)).trim() === '1'
}

/** Subscribers to `channel` connected to `node` itself (PUBSUB NUMSUB is per node in a cluster). */
async function listeners(node: RedisNodeAddress, channel: string): Promise<number> {
  return Number((await redisCli(node, 'PUBSUB', 'NUMSUB', channel)).trim().split('\n')[1])
}

for (const [name, connect] of [
  ['ioredis Cluster', ioredisClusterClient],
  ['node-redis cluster', nodeRedisClusterClient],
] as const) {
  describeWith('redis-server', `Redis Cluster replica failover (${name})`, function () {
    // Starting a 6-node cluster and a failover (2 s node timeout, election, gossip) take a few
    // seconds each; a loaded 2-core machine may need several times that.
    this.timeout(60_000)
    let cleanups: Array<() => Promise<void>> = []
    let unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => unhandled.push(reason)

    /** A cluster of its own with a replica per master: each test crashes one of its masters. */
    async function replicatedCluster(): Promise<RedisClusterHandle> {
      const cluster = await startRedisCluster({ replicas: 1 })
      cleanups.push(() => cluster.stop())
      return cluster
    }

    async function client(cluster: RedisClusterHandle): Promise<TestClient> {
      const c = await connect(cluster)
      cleanups.push(() => c.close())
      return c
    }

    beforeEach(() => {
      unhandled = []
      process.on('unhandledRejection', onUnhandled)
    })

    afterEach(async () => {
      process.removeListener('unhandledRejection', onUnhandled)
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined)
      cleanups = []
    })

    it('RedisStore: the session survives the crash of its master, and writes land on the promoted replica', async () => {
      const cluster = await replicatedCluster()
      const c = await client(cluster)
      const store = new RedisStore({ client: c.client as never, prefix: uniquePrefix('failover') })
      const browser = new SessionBrowser(new SessionManager({ secret: SECRET, store }))
      await browser.request((s) => s.set('user', 'alice'))
      const [id] = await store.ids()
      const key = store.keyOf(id!)
      expect(await waitForReplica(c, cluster, key), 'replicas that acknowledged the session').to.equal(1)

      const { killed, promoted } = await cluster.failover(key)
      expect(promoted.port).to.not.equal(killed.port)

      const user = await untilServed('reading the session after the failover', () =>
        browser.request((s) => s.get('user')),
      )
      expect(user, 'the session written before the failover').to.equal('alice')
      await untilServed('writing the session after the failover', () =>
        browser.request((s) => s.set('cart', 3)),
      )
      expect(await hasField(promoted, key, 'cart'), 'the write is on the promoted master').to.equal(true)
      expect(await browser.request((s) => [s.get('user'), s.get('cart')])).to.deep.equal(['alice', 3])
      expect(unhandled, 'unhandled rejections').to.deep.equal([])
    })

    it("HybridStore: the session survives the crash of its master, and process A's next read sees process B's write", async () => {
      const cluster = await replicatedCluster()
      // Two processes' clients and stores on one cluster, as in the two-process coherence tests.
      const a = await client(cluster)
      const b = await client(cluster)
      const prefix = uniquePrefix('failover-hybrid')
      const storeA = new HybridStore({ client: a.client as never, prefix, resyncInterval: 200 })
      const storeB = new HybridStore({ client: b.client as never, prefix, resyncInterval: 200 })
      cleanups.push(
        () => storeA.close(),
        () => storeB.close(),
      )
      await Promise.all([storeA.ready(), storeB.ready()])
      const metrics = new Metrics()
      const browserA = new SessionBrowser(new SessionManager({ secret: SECRET, store: storeA, metrics }))
      const browserB = new SessionBrowser(new SessionManager({ secret: SECRET, store: storeB }))

      await browserA.request((s) => s.set('user', 'alice'))
      browserB.cookie = browserA.cookie
      expect(storeA.cached, 'A caches the session it wrote').to.equal(1)
      const [id] = await storeA.ids()
      const key = storeA.redis.keyOf(id!)
      expect(await waitForReplica(a, cluster, key), 'replicas that acknowledged the session').to.equal(1)

      const { promoted } = await cluster.failover(key)

      // A lost its subscriber on the dead master, so its cache is cold: it reads from Redis.
      const user = await untilServed('A reading the session after the failover', () =>
        browserA.request((s) => s.get('user')),
      )
      expect(user, 'the session written before the failover (A)').to.equal('alice')
      // B has its own client, which may only learn of the failover from a failed request of its own.
      const userB = await untilServed('B reading the session after the failover', () =>
        browserB.request((s) => s.get('user')),
      )
      expect(userB, 'the same session read by B').to.equal('alice')
      await untilServed('A writing the session after the failover', () =>
        browserA.request((s) => s.set('cart', 3)),
      )
      expect(await hasField(promoted, key, 'cart'), 'the write is on the promoted master').to.equal(true)
      expect(await browserA.request((s) => [s.get('user'), s.get('cart')])).to.deep.equal(['alice', 3])

      // Both caches back in use, each listening on the promoted master: a change made there is
      // announced there first, and only later over the cluster bus to the other masters.
      const channel = storeA.redis.channel
      await eventually(
        'A and B caching again, both subscribed on the promoted master',
        async () => storeA.caching && storeB.caching && (await listeners(promoted, channel)) >= 2,
      )

      // B writes, A's very next read shows it, round after round; A serves its own reads in between
      // from its cache (counted), so a copy that missed an invalidation would be caught.
      const hitsBefore = metrics.get('cacheHits')
      const rounds = 30
      for (let round = 1; round <= rounds; round++) {
        expect(await browserA.request((s) => s.get('user')), `round ${round}: A before B`).to.equal('alice')
        await browserB.request((s) => s.set('n', round))
        expect(await browserA.request((s) => s.get('n')), `round ${round}: A after B`).to.equal(round)
      }
      expect(metrics.get('cacheHits') - hitsBefore, 'reads A served from its cache').to.be.at.least(
        rounds / 2,
      )
      expect(unhandled, 'unhandled rejections').to.deep.equal([])
    })
  })
}
