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
      const metrics = await cluster.metrics()
      expect(metrics.routedBy.cookie).to.equal(100)
      expect(metrics.routedBy.hash).to.equal(20)
    })
  })
}
