import http from 'node:http'
import { type ClusterOptions, HashRing } from '@tether/cluster'
import { Keyring } from '@tether/core'
import { expect } from 'chai'
import WebSocket from 'ws'
import { signCookieValue } from '../../packages/core/src/cookie/cookie-value.js'
import { newToken } from '../../packages/core/src/crypto/session-id.js'
import { describeHeadHandling, routeIn } from '../suites/head-handling.js'
import { type ClusterFixture, startClusterFixture } from '../support/cluster-fixture.js'
import { rawExchange, request } from '../support/http-client.js'
import { waitFor } from '../support/load-loop.js'
import { type ClusterSession, createSession, sessionsOnEveryWorker } from '../support/sessions.js'
import { FIXTURE_SECRET } from './fixtures/session-cluster.js'

const ROUTES = ['w0', 'w1', 'w2']

/**
 * Three workers with every HTTP strategy on (client-ip is opt-in) and small head limits so the
 * limit tests run fast (see describeHeadHandling).
 */
const ROUTING_OPTIONS: ClusterOptions = {
  workers: 3,
  host: '127.0.0.1',
  strategies: ['cookie', 'url-param', 'client-ip'],
  secret: FIXTURE_SECRET,
  trustedProxies: ['loopback'],
  maxHeaderSize: 4096,
  headersTimeout: 600,
}

describe('cluster routing', function () {
  this.timeout(60_000)
  let cluster: ClusterFixture
  let sessions: Map<string, ClusterSession>

  before(async () => {
    cluster = await startClusterFixture(ROUTING_OPTIONS)
    sessions = await sessionsOnEveryWorker(cluster.port, ROUTES)
  })
  after(async () => cluster?.close())

  describe('cookie strategy', () => {
    it('keeps 100 sessions on their worker across 10 requests each', async () => {
      const created: ClusterSession[] = []
      for (let i = 0; i < 100; i++)
        created.push(await createSession(cluster.port, `s${i}`, `192.0.2.${i + 1}`))
      expect(new Set(created.map((s) => s.route)).size, 'sessions spread over the workers').to.equal(3)
      for (let round = 0; round < 10; round++) {
        const responses = await Promise.all(
          created.map((s) =>
            request(cluster.port, '/', { headers: { cookie: s.cookie, 'x-forwarded-for': '203.0.113.1' } }),
          ),
        )
        responses.forEach((r, i) => {
          expect(r.body.route).to.equal(created[i]!.route)
          expect(r.body.user).to.equal(`s${i}`)
        })
      }
    })

    it('ignores a cookie whose MAC does not verify (when the primary has the secret)', async () => {
      const owner = sessions.get('w1')!
      const parts = owner.value.split('.')
      const forged = `${parts[0]}.${parts[1]}.${'A'.repeat(22)}`
      // An address the ring does not give to w1, so a followed forged route would show.
      let ip = ''
      const ring = new HashRing(ROUTES)
      for (let i = 1; ring.get(ip) === 'w1' || ip === ''; i++) ip = `203.0.113.${i}`
      const response = await request(cluster.port, '/', {
        headers: { cookie: `tether.sid=${forged}`, 'x-forwarded-for': ip },
      })
      expect(response.body.route).to.equal(ring.get(ip))
      expect(response.body.user).to.equal(null)
    })
  })

  describe('cookie tossing: planted cookies of the same name before the real one', () => {
    /** An address the ring does not give to `route`, so routing by address instead would show. */
    function addressNotOn(route: string): string {
      const ring = new HashRing(ROUTES)
      let ip = ''
      for (let i = 1; ring.get(ip) === route || ip === ''; i++) ip = `203.0.113.${i}`
      return ip
    }
    /** Well-formed cookies for worker w0, signed by nobody the cluster knows. */
    const tossed = (name: string) =>
      Array.from({ length: 5 }, () => `${name}=${newToken()}.w0.${'A'.repeat(22)}`).join('; ')

    it('still routes to the owner of the real cookie', async () => {
      const owner = sessions.get('w1')!
      const response = await request(cluster.port, '/', {
        headers: {
          cookie: `${tossed('tether.sid')}; ${owner.cookie}`,
          'x-forwarded-for': addressNotOn('w1'),
        },
      })
      expect(response.body.route).to.equal('w1')
      expect(response.body.user).to.not.equal(null)
    })

    it('reads __Host-tether.sid first, so plain-named cookies cannot shadow it', async () => {
      const owner = sessions.get('w2')!
      const response = await request(cluster.port, '/', {
        headers: {
          cookie: `${tossed('tether.sid')}; __Host-tether.sid=${owner.value}`,
          'x-forwarded-for': addressNotOn('w2'),
        },
      })
      expect(response.body.route).to.equal('w2')
      expect(response.body.user).to.not.equal(null)
    })
  })

  describe('a route no worker has', () => {
    it("goes to the ring's pick for that route, marked as that route's connection", async () => {
      const keyring = new Keyring(FIXTURE_SECRET)
      for (const route of ['w9', 'other-node-w0']) {
        const value = signCookieValue(newToken(), route, keyring)
        const response = await request(cluster.port, '/', { headers: { cookie: `tether.sid=${value}` } })
        expect(response.body).to.include({ route: new HashRing(ROUTES).get(route), connectionRoute: route })
      }
    })
  })

  describe('url-param strategy', () => {
    it('routes on the session value in the query string', async () => {
      for (const [route, session] of sessions) {
        const response = await request(cluster.port, `/?tether.sid=${encodeURIComponent(session.value)}`, {
          headers: { 'x-forwarded-for': '203.0.113.77' },
        })
        expect(response.body.route).to.equal(route)
      }
    })
  })

  describe('client-ip strategy', () => {
    it("sends a client address to the ring's pick, every time", async () => {
      const ring = new HashRing(ROUTES)
      for (let i = 1; i <= 20; i++) {
        const ip = i % 2 === 0 ? `2001:db8::${i}` : `198.18.0.${i}`
        for (let j = 0; j < 2; j++) {
          const response = await request(cluster.port, '/', { headers: { 'x-forwarded-for': ip } })
          expect(response.body.route, ip).to.equal(ring.get(ip))
        }
      }
    })
  })

  describeHeadHandling(() => ({ cluster, sessions }))

  describe('keep-alive', () => {
    it('closes a connection whose next request belongs to another worker, so it is routed afresh', async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
      const a = sessions.get('w0')!
      const b = sessions.get('w1')!
      try {
        const first = await request(cluster.port, '/', { agent, headers: { cookie: a.cookie } })
        expect(first.body.route).to.equal('w0')
        expect(first.headers.connection).to.equal('keep-alive')
        // Same pooled connection, other session: the owner of the connection answers, and closes it.
        const second = await request(cluster.port, '/', { agent, headers: { cookie: b.cookie } })
        expect(second.body).to.include({ route: 'w0', misrouted: true })
        expect(second.headers.connection).to.equal('close')
        const third = await request(cluster.port, '/', { agent, headers: { cookie: b.cookie } })
        expect(third.body).to.include({ route: 'w1', misrouted: false })
        const fourth = await request(cluster.port, '/', { agent, headers: { cookie: b.cookie } })
        expect(fourth.body).to.include({ route: 'w1', misrouted: false })
      } finally {
        agent.destroy()
      }
      // Workers report their counters every 100 ms at most.
      await waitFor(async () => (await cluster.metrics()).misroutes >= 1)
    })
  })

  describe('long-lived connections', () => {
    it('routes WebSocket upgrades to the session owner', async () => {
      for (const route of ['w1', 'w2']) {
        const ws = new WebSocket(`ws://127.0.0.1:${cluster.port}/socket`, {
          headers: { cookie: sessions.get(route)!.cookie },
        })
        const messages: string[] = []
        await new Promise<void>((resolve, reject) => {
          ws.on('message', (data) => {
            messages.push(String(data))
            if (messages.length === 1) ws.send('ping')
            else ws.close()
          })
          ws.on('close', () => resolve())
          ws.on('error', reject)
        })
        expect(messages).to.deep.equal([`hello from ${route}`, `${route}:ping`])
      }
    })

    it('routes server-sent events to the session owner', async () => {
      const response = await request(cluster.port, '/sse', {
        headers: { cookie: sessions.get('w2')!.cookie },
      })
      expect(response.text).to.equal('data: w2 0\n\ndata: w2 1\n\ndata: w2 2\n\n')
    })
  })

  describe('metrics', () => {
    it('counts connections per worker and per strategy', async () => {
      const metrics = await cluster.metrics()
      expect(metrics.routedBy.cookie).to.be.above(1000)
      expect(metrics.routedBy['client-ip']).to.be.above(100)
      expect(metrics.routedBy['url-param']).to.equal(3)
      expect(metrics.slots.map((s) => s.route)).to.deep.equal(ROUTES)
      for (const slot of metrics.slots) expect(slot.routed).to.be.above(100)
      expect(metrics.routed).to.equal(metrics.slots.reduce((sum, s) => sum + s.routed, 0))
    })
  })
})

describe('cluster routing with the net.Socket reader (TETHER_PRIMARY_READER=socket)', function () {
  // The primary's fallback for a Node.js that does not expose its stream read state.
  this.timeout(60_000)
  let cluster: ClusterFixture
  let sessions: Map<string, ClusterSession>

  before(async () => {
    cluster = await startClusterFixture(ROUTING_OPTIONS, {}, 'session-cluster', {
      TETHER_PRIMARY_READER: 'socket',
    })
    sessions = await sessionsOnEveryWorker(cluster.port, ROUTES)
  })
  after(async () => cluster?.close())

  describeHeadHandling(() => ({ cluster, sessions }))
})

describe('cluster routing with PROXY protocol', function () {
  this.timeout(30_000)
  let cluster: ClusterFixture
  const ring = new HashRing(['w0', 'w1'])

  before(async () => {
    cluster = await startClusterFixture({
      workers: 2,
      host: '::',
      strategies: ['proxy-protocol', 'cookie'],
      trustedProxies: ['127.0.0.1'],
    })
  })
  after(async () => cluster?.close())

  const http1 = 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'

  it('hashes the client address of a v1 header from a trusted balancer', async () => {
    for (const ip of ['198.51.100.1', '198.51.100.2', '198.51.100.3', '198.51.100.4']) {
      const { response } = await rawExchange(
        cluster.port,
        [`PROXY TCP4 ${ip} 10.0.0.1 40000 80\r\n`, http1],
        { gap: 5 },
      )
      expect(routeIn(response), ip).to.equal(ring.get(ip))
    }
  })

  it('hashes the client address of a v2 header, split across reads', async () => {
    const sig = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]
    for (const last of [7, 8, 9]) {
      const header = Buffer.from([
        ...sig,
        0x21,
        0x11,
        0,
        12,
        203,
        0,
        113,
        last,
        10,
        0,
        0,
        1,
        0x9c,
        0x40,
        0,
        80,
      ])
      const { response } = await rawExchange(
        cluster.port,
        [header.subarray(0, 10), header.subarray(10), http1],
        { gap: 5 },
      )
      expect(routeIn(response)).to.equal(ring.get(`203.0.113.${last}`))
    }
  })

  it('does not read PROXY headers from untrusted peers (400)', async () => {
    const { response } = await rawExchange(cluster.port, [`PROXY TCP4 1.2.3.4 10.0.0.1 1 80\r\n${http1}`], {
      host: '::1',
    })
    expect(response).to.match(/^HTTP\/1\.1 400/)
  })

  it('serves plain HTTP from a trusted peer that sends no PROXY header', async () => {
    const { response } = await rawExchange(cluster.port, [http1])
    expect(response).to.match(/^HTTP\/1\.1 200/)
  })
})

describe('cluster routing with bounded load', function () {
  this.timeout(30_000)
  let cluster: ClusterFixture
  before(async () => {
    cluster = await startClusterFixture({
      workers: 2,
      host: '127.0.0.1',
      strategies: ['client-ip'],
      boundedLoad: true,
    })
  })
  after(async () => cluster?.close())

  it('spreads the open connections of one client address once its worker is above 1.25 x the average', async () => {
    // Every connection comes from 127.0.0.1: plain IP hashing would put all of them on one worker.
    const agents = Array.from({ length: 20 }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }))
    try {
      const routes: string[] = []
      for (const agent of agents)
        routes.push(String((await request(cluster.port, '/', { agent })).body.route))
      const counts = new Map<string, number>()
      for (const route of routes) counts.set(route, (counts.get(route) ?? 0) + 1)
      expect(counts.size).to.equal(2)
      expect(Math.max(...counts.values())).to.be.at.most(Math.ceil((1.25 * 20) / 2) + 1)
      // The first connections went to the address's own worker on the ring.
      expect(routes[0]).to.equal(new HashRing(['w0', 'w1']).get('127.0.0.1'))
    } finally {
      for (const agent of agents) agent.destroy()
    }
  })
})
