// What a worker's app sees of the whole cluster: clusterMetrics() and the Prometheus registration,
// read through real worker processes and compared with what the primary says.
import { clusterMetrics, type SlotSnapshot } from '@tether/cluster'
import { expect } from 'chai'
import { type ClusterFixture, startClusterFixture } from '../support/cluster-fixture.js'
import { request } from '../support/http-client.js'
import { waitFor } from '../support/load-loop.js'
import { createSession } from '../support/sessions.js'
import { FIXTURE_SECRET } from './fixtures/session-cluster.js'

const ROUTES = ['w0', 'w1', 'w2']

/** `name{worker="w0"} 12` lines of a Prometheus text page, by worker. */
function perWorker(text: string, name: string): Map<string, number> {
  const values = new Map<string, number>()
  for (const match of text.matchAll(new RegExp(`^${name}\\{worker="(w\\d)"\\} (\\S+)$`, 'gm')))
    values.set(match[1]!, Number(match[2]))
  return values
}

const sum = (values: Iterable<number>) => [...values].reduce((a, b) => a + b, 0)

describe('cluster metrics inside a worker', function () {
  this.timeout(60_000)
  let cluster: ClusterFixture
  before(async () => {
    cluster = await startClusterFixture({
      workers: 3,
      host: '127.0.0.1',
      secret: FIXTURE_SECRET,
      restartDelay: 100,
    })
  })
  after(() => cluster?.close())

  it('gives a worker the slots the primary sees, with sessions and requests per worker', async () => {
    for (let i = 0; i < 30; i++) await createSession(cluster.port, `user${i}`, '127.0.0.1')
    // Workers report every second at the latest.
    await waitFor(async () => sum((await cluster.workers()).map((w) => w.sessions)) === 30, 5_000)
    const fromWorker = await request(cluster.port, '/cluster-metrics')
    expect(fromWorker.status).to.equal(200)
    const slots = fromWorker.body.slots as SlotSnapshot[]
    const primary = await cluster.workers()
    expect(slots.map((s) => [s.route, s.pid, s.state])).to.deep.equal(
      primary.map((s) => [s.route, s.pid, s.state]),
    )
    expect(slots.map((s) => s.route)).to.deep.equal(ROUTES)
    expect(sum(slots.map((s) => s.sessions))).to.equal(30)
    // First visits spread evenly: every worker holds some of the 30 sessions.
    for (const slot of slots) expect(slot.sessions, slot.route).to.be.greaterThan(0)
    expect(sum(slots.map((s) => s.requests))).to.be.at.least(30)
    expect((fromWorker.body.routedBy as Record<string, number>)['first-visit']).to.be.at.least(30)
  })

  it('keeps counting a slot’s requests across a restart of its worker', async () => {
    const before = (await cluster.workers()).find((w) => w.route === 'w1')!
    expect(before.requests).to.be.greaterThan(0)
    process.kill(before.pid!, 'SIGKILL')
    await waitFor(async () => {
      const w1 = (await cluster.workers()).find((w) => w.route === 'w1')!
      return w1.state === 'ready' && w1.pid !== before.pid
    }, 10_000)
    const after = (await cluster.workers()).find((w) => w.route === 'w1')!
    expect(after.requests).to.be.at.least(before.requests)
    // Its MemoryStore died with it (no replication here).
    expect(after.sessions).to.equal(0)
    expect(after.restarts).to.equal(before.restarts + 1)
  })

  it('exposes the cluster in a prom-client registry, labelled by worker', async () => {
    const page = await request(cluster.port, '/prometheus')
    expect(page.status).to.equal(200)
    const text = page.text
    expect(text).to.include('# TYPE tether_cluster_worker_sessions gauge')
    expect(text).to.include('# TYPE tether_cluster_worker_requests_total counter')
    const up = perWorker(text, 'tether_cluster_worker_up')
    expect([...up.keys()]).to.deep.equal(ROUTES)
    expect([...up.values()]).to.deep.equal([1, 1, 1])
    const primary = await cluster.workers()
    const sessions = perWorker(text, 'tether_cluster_worker_sessions')
    expect(sum(sessions.values())).to.equal(sum(primary.map((w) => w.sessions)))
    const restarts = perWorker(text, 'tether_cluster_worker_restarts_total')
    expect(restarts.get('w1')).to.equal(1)
    const firstVisits = /^tether_cluster_routed_total\{by="first-visit"\} (\d+)$/m.exec(text)
    expect(Number(firstVisits?.[1])).to.be.at.least(30)
  })

  it('refuses outside a worker, with a message that says so', async () => {
    let error: Error | undefined
    await clusterMetrics().catch((e: Error) => {
      error = e
    })
    expect(error?.message).to.equal('clusterMetrics() works only inside a worker started by startCluster()')
  })
})
