import http from 'node:http'
import { expect } from 'chai'
import { type ClusterFixture, startClusterFixture } from '../support/cluster-fixture.js'
import { cookieOf, request } from '../support/http-client.js'

for (const framework of ['express', 'fastify'] as const) {
  describe(`cluster with @tether/${framework}`, function () {
    this.timeout(30_000)
    let cluster: ClusterFixture
    before(async () => {
      // First visits are spread by TCP address and port ('cookie' only), so sessions land everywhere.
      cluster = await startClusterFixture(
        { workers: 2, host: '127.0.0.1', strategies: ['cookie'] },
        { framework },
        'framework-cluster',
      )
    })
    after(async () => cluster?.close())

    it('keeps each session on the worker whose per-process MemoryStore holds it', async () => {
      const sessions: Array<{ cookie: string; route: string }> = []
      for (let i = 0; i < 20; i++) {
        const first = await request(cluster.port, '/count')
        expect(first.body.count).to.equal(1)
        sessions.push({ cookie: cookieOf(first), route: String(first.body.route) })
      }
      expect(new Set(sessions.map((s) => s.route))).to.deep.equal(new Set(['w0', 'w1']))
      for (let round = 2; round <= 6; round++) {
        const responses = await Promise.all(
          sessions.map((s) => request(cluster.port, '/count', { headers: { cookie: s.cookie } })),
        )
        responses.forEach((r, i) => {
          expect(r.body).to.include({ route: sessions[i]!.route, count: round })
        })
      }
      // A hand-off is counted when the worker acknowledges it, which may come after its answer.
      let metrics = await cluster.metrics()
      for (let i = 0; i < 40 && metrics.routedBy.cookie + metrics.routedBy['first-visit'] < 120; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50))
        metrics = await cluster.metrics()
      }
      expect(metrics.routedBy.cookie).to.equal(100)
      expect(metrics.routedBy['first-visit']).to.equal(20)
    })

    it("closes a pooled keep-alive connection that brings another worker's session, so it is routed afresh", async () => {
      const byRoute = new Map<string, string>()
      for (let i = 0; i < 40 && byRoute.size < 2; i++) {
        const response = await request(cluster.port, '/count')
        byRoute.set(String(response.body.route), cookieOf(response))
      }
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
      try {
        const own = await request(cluster.port, '/count', { agent, headers: { cookie: byRoute.get('w0')! } })
        expect(own.body).to.include({ route: 'w0', count: 2 })
        expect(own.headers.connection).to.equal('keep-alive')
        const other = await request(cluster.port, '/count', {
          agent,
          headers: { cookie: byRoute.get('w1')! },
        })
        expect(other.body.route).to.equal('w0')
        expect(other.headers.connection).to.equal('close')
        const routedAgain = await request(cluster.port, '/count', {
          agent,
          headers: { cookie: byRoute.get('w1')! },
        })
        expect(routedAgain.body).to.include({ route: 'w1', count: 2 })
      } finally {
        agent.destroy()
      }
    })
  })
}
