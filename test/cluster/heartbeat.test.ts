import { expect } from 'chai'
import { type ClusterFixture, startClusterFixture } from '../support/cluster-fixture.js'
import { request } from '../support/http-client.js'
import { startLoad, waitFor } from '../support/load-loop.js'
import { type ClusterSession, sessionsOnEveryWorker } from '../support/sessions.js'
import { FIXTURE_SECRET } from './fixtures/session-cluster.js'

const ROUTES = ['w0', 'w1', 'w2']

async function pidOf(cluster: ClusterFixture, route: string): Promise<number> {
  const pid = (await cluster.workers()).find((w) => w.route === route)?.pid
  if (pid === undefined) throw new Error(`${route} has no worker`)
  return pid
}

/** Sends first visits one after another until `ms` have passed; each must be answered within 2 s. */
async function firstVisitsFor(port: number, ms: number): Promise<Array<{ route: string; pid: number }>> {
  const answers: Array<{ route: string; pid: number }> = []
  const end = Date.now() + ms
  while (Date.now() < end) {
    const response = await request(port, '/', { timeout: 2_000 })
    answers.push({ route: String(response.body.route), pid: Number(response.body.pid) })
  }
  return answers
}

describe('a hung worker', function () {
  this.timeout(60_000)
  const HEARTBEAT_TIMEOUT = 1_000
  let cluster: ClusterFixture
  let sessions: Map<string, ClusterSession>

  beforeEach(async () => {
    cluster = await startClusterFixture({
      workers: 3,
      host: '127.0.0.1',
      secret: FIXTURE_SECRET,
      heartbeatTimeout: HEARTBEAT_TIMEOUT,
      restartDelay: 500,
    })
    sessions = await sessionsOnEveryWorker(cluster.port, ROUTES)
  })
  afterEach(async () => cluster?.close())

  /**
   * Hangs w1 with `hang` under load, then checks that within heartbeatTimeout + 3 s w1's session is
   * answered by a living worker and first visits never wait on w1, and that w1 is replaced.
   */
  async function expectTakenOut(hang: (pid: number) => void): Promise<void> {
    const cookies = ROUTES.map((r) => sessions.get(r)!.cookie)
    const load = startLoad({ port: cluster.port, cookies, concurrency: 6, keepAlive: false, timeout: 20_000 })
    const victim = await pidOf(cluster, 'w1')
    let hungAt = 0
    try {
      await waitFor(() => load.samples.length > 30)
      hungAt = Date.now()
      hang(victim)
      const deadline = hungAt + HEARTBEAT_TIMEOUT + 3_000
      await waitFor(async () => {
        const response = await request(cluster.port, '/', {
          headers: { cookie: sessions.get('w1')!.cookie },
          timeout: 2_000,
        }).catch(() => undefined)
        return response?.body.route !== undefined && response.body.route !== 'w1'
      }, deadline - Date.now())
      const answers = await firstVisitsFor(cluster.port, 1_000)
      expect(answers.length).to.be.above(10)
      for (const answer of answers) expect(answer.pid).to.not.equal(victim)
      expect(Date.now(), 'taken out within heartbeatTimeout + 3 s').to.be.below(deadline + 1_000)
    } finally {
      await load.stop()
    }
    // Connections handed to w1 once it hung were never taken by it: they were routed again.
    const later = load.samples.filter((s) => s.session === 1 && s.at > hungAt + 300)
    expect(later.length).to.be.above(0)
    for (const sample of later) {
      expect(sample.error).to.equal(undefined)
      expect(sample.body?.pid).to.not.equal(victim) // a living worker, or w1's replacement
    }
    const metrics = await cluster.metrics()
    expect(metrics.hung).to.equal(1)
    expect(cluster.events).to.deep.include({ type: 'hung', route: 'w1' })
    expect(metrics.fallbacks).to.be.above(0)
    // Killed and replaced in its slot; the sessions of the others never moved.
    await waitFor(async () => {
      const slot = (await cluster.workers())[1]!
      return slot.state === 'ready' && slot.pid !== victim
    })
    expect(() => process.kill(victim, 0)).to.throw()
    for (const route of ['w0', 'w2']) {
      const response = await request(cluster.port, '/', { headers: { cookie: sessions.get(route)!.cookie } })
      expect(response.body.route).to.equal(route)
    }
  }

  it('stopped with SIGSTOP: its sessions go to a living worker, first visits avoid it, it is replaced', async () => {
    await expectTakenOut((pid) => process.kill(pid, 'SIGSTOP'))
  })

  it('stuck in a busy loop: the same', async () => {
    await expectTakenOut(() => {
      request(cluster.port, '/spin', {
        headers: { cookie: sessions.get('w1')!.cookie },
        timeout: 20_000,
      }).catch(
        () => undefined, // reset when the worker is killed
      )
    })
  })
})

describe('a slow worker that is alive', function () {
  this.timeout(60_000)
  let cluster: ClusterFixture
  after(async () => cluster?.close())

  it('is not killed: a 5 s synchronous task with the 10 s default timeout', async () => {
    cluster = await startClusterFixture({ workers: 2, host: '127.0.0.1', secret: FIXTURE_SECRET })
    const sessions = await sessionsOnEveryWorker(cluster.port, ['w0', 'w1'])
    const pid = await pidOf(cluster, 'w1')
    const response = await request(cluster.port, '/block?ms=5000', {
      headers: { cookie: sessions.get('w1')!.cookie },
      timeout: 15_000,
    })
    expect(response.body).to.deep.equal({ route: 'w1', pid })
    // Two more heartbeat periods after the task: still the same worker.
    await new Promise((resolve) => setTimeout(resolve, 2_000))
    const after = await request(cluster.port, '/', { headers: { cookie: sessions.get('w1')!.cookie } })
    expect(after.body).to.include({ route: 'w1', pid })
    const metrics = await cluster.metrics()
    expect(metrics.hung).to.equal(0)
    expect(metrics.restarts).to.equal(0)
  })
})
