import { expect } from 'chai'
import WebSocket from 'ws'
import { type ClusterFixture, startClusterFixture } from '../support/cluster-fixture.js'
import { PROXY_ADDRESS, startForwardingProxy } from '../support/forwarding-proxy.js'
import { cookieOf, request } from '../support/http-client.js'
import { waitFor } from '../support/load-loop.js'

/** Creates `count` sessions one after another, each on a new connection, and counts them per worker. */
async function createSessions(
  port: number,
  count: number,
): Promise<{ perWorker: Map<string, number>; cookies: Array<[string, string]> }> {
  const perWorker = new Map<string, number>()
  const cookies: Array<[string, string]> = []
  for (let i = 0; i < count; i++) {
    const response = await request(port, `/login?user=u${i}`)
    const route = String(response.body.route)
    perWorker.set(route, (perWorker.get(route) ?? 0) + 1)
    cookies.push([cookieOf(response), route])
  }
  return { perWorker, cookies }
}

/** Every one of `routes` holds between 80% and 120% of its fair share of `count` sessions. */
function expectFairShares(perWorker: Map<string, number>, routes: readonly string[], count: number): void {
  const fair = count / routes.length
  expect([...perWorker.keys()].sort()).to.deep.equal([...routes].sort())
  for (const route of routes) {
    const got = perWorker.get(route) ?? 0
    expect(got, `${route}: ${got} of ${count} sessions (fair share ${fair})`).to.be.within(
      0.8 * fair,
      1.2 * fair,
    )
  }
}

const routesOf = (n: number) => Array.from({ length: n }, (_, i) => `w${i}`)

describe('first visits with the default strategies', function () {
  this.timeout(120_000)
  let cluster: ClusterFixture | undefined
  afterEach(async () => cluster?.close())

  it('spread 300 sessions from one address evenly over 3 workers, and keep each on its worker', async () => {
    cluster = await startClusterFixture({ workers: 3, host: '127.0.0.1' })
    const { perWorker, cookies } = await createSessions(cluster.port, 300)
    expectFairShares(perWorker, routesOf(3), 300)
    for (const [cookie, route] of cookies.slice(0, 60)) {
      const response = await request(cluster.port, '/', { headers: { cookie } })
      expect(response.body).to.include({ route, misrouted: false })
    }
    const metrics = await cluster.metrics()
    expect(metrics.routedBy['first-visit']).to.be.at.least(300)
    expect(metrics.routedBy['client-ip']).to.equal(0)
  })

  it(`spread 300 sessions coming through one proxy (${PROXY_ADDRESS}, not trusted) evenly over 3 workers`, async () => {
    cluster = await startClusterFixture({ workers: 3, host: '127.0.0.1' })
    const proxy = await startForwardingProxy(cluster.port)
    try {
      const { perWorker, cookies } = await createSessions(proxy.port, 300)
      expectFairShares(perWorker, routesOf(3), 300)
      for (const [cookie, route] of cookies.slice(0, 60)) {
        const response = await request(proxy.port, '/', { headers: { cookie } })
        expect(response.body).to.include({ route, misrouted: false })
      }
    } finally {
      await proxy.close()
    }
  })

  it('spread 2,000 sessions from one address evenly over 8 workers', async () => {
    cluster = await startClusterFixture({ workers: 8, host: '127.0.0.1' })
    const { perWorker } = await createSessions(cluster.port, 2000)
    expectFairShares(perWorker, routesOf(8), 2000)
  })

  it('spread evenly with bounded load on, too', async () => {
    cluster = await startClusterFixture({ workers: 3, host: '127.0.0.1', boundedLoad: true })
    const { perWorker } = await createSessions(cluster.port, 300)
    expectFairShares(perWorker, routesOf(3), 300)
  })

  it('go to the workers with the fewest open connections', async () => {
    cluster = await startClusterFixture({ workers: 3, host: '127.0.0.1' })
    const port = cluster.port
    let w0: string | undefined
    for (let i = 0; i < 10 && w0 === undefined; i++) {
      const response = await request(port, '/login?user=ws')
      if (response.body.route === 'w0') w0 = cookieOf(response)
    }
    // Ten WebSockets of a w0 session stay open on w0.
    const sockets = await Promise.all(Array.from({ length: 10 }, () => openWebSocket(port, w0!)))
    try {
      await waitFor(async () => (await cluster!.workers()).map((s) => s.connections).join() === '10,0,0')
      const { perWorker } = await createSessions(port, 20)
      // None on w0, with its ten open connections: the primary counts what each worker last
      // reported plus the connections handed to it since, so w1 and w2 reach ten only when all
      // twenty are placed. Not always ten each: a report of closed connections that reaches the
      // primary from one worker before the other's sends that worker two first visits in a row.
      expect([...perWorker.keys()].sort()).to.deep.equal(['w1', 'w2'])
      for (const route of ['w1', 'w2']) {
        expect(perWorker.get(route), `${route}: ${perWorker.get(route)} of 20`).to.be.at.least(5)
      }
    } finally {
      for (const ws of sockets) ws.close()
    }
  })
})

/** Opens a WebSocket with `cookie` and resolves once the worker said hello. */
function openWebSocket(port: number, cookie: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/socket`, { headers: { cookie } })
    ws.once('message', () => resolve(ws))
    ws.once('error', reject)
  })
}
