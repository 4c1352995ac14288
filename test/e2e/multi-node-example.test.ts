// examples/multi-node as its README runs it: two nodes (node.ts, each a cluster primary with 2
// workers) behind HAProxy with the example's haproxy.cfg, sessions in Redis, then in a 3-master
// Redis Cluster. 100 shoppers, each with its own connection and cookie jar, fill carts; then one
// node is stopped and every cart must go on from the other node, whole and unmixed.
import { expect } from 'chai'
import type { RunningExample } from '../support/example-process.js'
import type { HaproxyHandle } from '../support/haproxy.js'
import {
  type CartReply,
  Shopper,
  startExampleHaproxy,
  startExampleNode,
} from '../support/multi-node-example.js'
import { type RedisClusterHandle, startRedisCluster } from '../support/redis-cluster.js'
import { redisCli, sharedRedisServer } from '../support/redis-server.js'
import { describeWith } from '../support/system-binaries.js'

const SHOPPERS = 100

/** The reply shows this shopper's cart, all of it and nothing of anyone else's. */
function expectOwnCart(shopper: Shopper, reply: CartReply): void {
  expect(reply.status, `${shopper.name}: status`).to.equal(201)
  expect(reply.cart, `${shopper.name}: cart`).to.deep.equal(shopper.items)
}

/** Every shopper adds one item at once (each one request at a time on its own connection). */
function everyoneAddsAnItem(shoppers: Shopper[]): Promise<CartReply[]> {
  return Promise.all(shoppers.map((shopper) => shopper.addsAnItem()))
}

/** The scenario, with the nodes' store settings (REDIS_URL or REDIS_CLUSTER_NODES) from `store`. */
function describeTwoNodes(store: () => Promise<Record<string, string>>): void {
  let a: RunningExample | undefined
  let b: RunningExample | undefined
  let haproxy: HaproxyHandle | undefined
  const shoppers: Shopper[] = []

  before(async function () {
    this.timeout(60_000)
    const env = await store()
    ;[a, b] = await Promise.all([startExampleNode('a', env), startExampleNode('b', env)])
    haproxy = await startExampleHaproxy(a, b)
    for (let i = 0; i < SHOPPERS; i++) shoppers.push(new Shopper(haproxy.port, `shopper-${i}`))
  })

  after(async function () {
    this.timeout(20_000)
    for (const shopper of shoppers) shopper.close()
    await haproxy?.stop()
    await Promise.all([a?.stop(), b?.stop()])
  })

  it('spreads 100 new sessions over both nodes', async () => {
    const replies = await everyoneAddsAnItem(shoppers)
    const perNode = { a: 0, b: 0 }
    shoppers.forEach((shopper, i) => {
      expectOwnCart(shopper, replies[i]!)
      // The worker that answered is the one its new cookie names.
      expect(shopper.route, shopper.name).to.match(/^[ab]-w[01]$/)
      expect(replies[i]!.servedBy, shopper.name).to.equal(shopper.route)
      perNode[shopper.route![0] as 'a' | 'b']++
    })
    // HAProxy's roundrobin alternates first visits; leave room for health checks in between.
    expect(perNode.a, JSON.stringify(perNode)).to.be.within(30, 70)
    expect(perNode.b, JSON.stringify(perNode)).to.be.within(30, 70)
  })

  it('keeps every session on its node and worker', async () => {
    const routes = shoppers.map((shopper) => shopper.route)
    for (let round = 0; round < 3; round++) {
      const replies = await everyoneAddsAnItem(shoppers)
      shoppers.forEach((shopper, i) => {
        expectOwnCart(shopper, replies[i]!)
        expect(replies[i]!.servedBy, shopper.name).to.equal(routes[i])
        expect(shopper.route, `${shopper.name}: cookie`).to.equal(routes[i])
      })
    }
  })

  it('goes on with every session of a stopped node from the other node, carts whole', async () => {
    const wasOnA = shoppers.map((shopper) => shopper.route!.startsWith('a-'))
    const routes = shoppers.map((shopper) => shopper.route)
    const cookies = shoppers.map((shopper) => shopper.cookie)
    // SIGTERM, as Ctrl-C or a service manager would: the node drains and exits cleanly.
    expect(await a!.stop()).to.equal(0)
    expect(a!.output()).to.include('node a: SIGTERM, draining')
    /** Which worker of b took over each route of a (a-w0, a-w1). */
    const takenBy = new Map<string, unknown>()
    for (let round = 0; round < 3; round++) {
      const replies = await everyoneAddsAnItem(shoppers)
      shoppers.forEach((shopper, i) => {
        const reply = replies[i]!
        expectOwnCart(shopper, reply)
        if (!wasOnA[i]) {
          expect(reply.servedBy, shopper.name).to.equal(routes[i])
          return
        }
        expect(reply.servedBy, shopper.name).to.match(/^b-w[01]$/)
        // Node b sends all the sessions of one route of a to one worker (its ring's pick), always.
        if (!takenBy.has(routes[i]!)) takenBy.set(routes[i]!, reply.servedBy)
        expect(reply.servedBy, shopper.name).to.equal(takenBy.get(routes[i]!))
      })
    }
    expect([...takenBy.keys()].sort()).to.deep.equal(['a-w0', 'a-w1'])
    shoppers.forEach((shopper, i) => {
      // The same session, not a new one: its cookie (and route, should a come back) is unchanged.
      expect(shopper.cookie, shopper.name).to.equal(cookies[i])
      // 1 item in the first round, 3 while both nodes ran, 3 since: nothing lost anywhere.
      expect(shopper.items, shopper.name).to.have.length(7)
    })
    expect(b!.output()).to.not.include('redis:')
  })
}

describeWith(['haproxy', 'redis-server'], 'examples/multi-node: two nodes behind HAProxy', function () {
  this.timeout(30_000)

  describe('sessions in one Redis', () => {
    describeTwoNodes(async () => ({ REDIS_URL: (await sharedRedisServer()).url }))
  })

  describe('sessions in a Redis Cluster of 3 masters', () => {
    let cluster: RedisClusterHandle | undefined
    describeTwoNodes(async () => {
      cluster = await startRedisCluster()
      return { REDIS_CLUSTER_NODES: cluster.nodes.map((node) => `${node.host}:${node.port}`).join(',') }
    })

    it('kept the sessions on all 3 masters (each session key is its own hash slot)', async () => {
      for (const node of cluster!.nodes) {
        const keys = (await redisCli(node, '--scan', '--pattern', 'tether:{*}')).trim().split('\n')
        expect(keys.length, `master ${node.port}`).to.be.within(10, SHOPPERS - 20)
      }
    })

    // After the nodes' own after hook, which is defined first: the nodes stop before their Redis.
    after(async function () {
      this.timeout(20_000)
      await cluster?.stop()
    })
  })
})
