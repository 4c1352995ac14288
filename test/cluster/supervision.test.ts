import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { HashRing } from '@tether/cluster'
import { expect } from 'chai'
import { type ClusterFixture, startClusterFixture } from '../support/cluster-fixture.js'
import { request } from '../support/http-client.js'
import { startLoad, waitFor } from '../support/load-loop.js'
import { type ClusterSession, sessionsOnEveryWorker } from '../support/sessions.js'
import { FIXTURE_SECRET } from './fixtures/session-cluster.js'

const ROUTES = ['w0', 'w1', 'w2']

async function pidOf(cluster: ClusterFixture, route: string): Promise<number | undefined> {
  return (await cluster.workers()).find((w) => w.route === route)?.pid
}

describe('cluster supervision', function () {
  this.timeout(60_000)
  const flagDir = mkdtempSync(join(tmpdir(), 'tether-cluster-'))
  const crashFlag = join(flagDir, 'crash')
  after(() => rmSync(flagDir, { recursive: true, force: true }))

  describe('a worker killed with SIGKILL under load', () => {
    let cluster: ClusterFixture
    let sessions: Map<string, ClusterSession>
    before(async () => {
      cluster = await startClusterFixture(
        {
          workers: 3,
          host: '127.0.0.1',
          secret: FIXTURE_SECRET,
          trustedProxies: ['loopback'],
          restartDelay: 1_500,
          maxRestartDelay: 1_500,
          maxRestarts: 3,
        },
        { crashFlag },
      )
      sessions = await sessionsOnEveryWorker(cluster.port, ROUTES)
    })
    after(async () => cluster?.close())

    it("hangs no client, sends its sessions to the ring's pick, and gives them back to its replacement", async () => {
      const cookies = ROUTES.map((r) => sessions.get(r)!.cookie)
      const load = startLoad({
        port: cluster.port,
        cookies,
        concurrency: 6,
        keepAlive: false,
        timeout: 5_000,
      })
      await waitFor(() => load.samples.length >= 30) // the load is under way
      const victim = (await pidOf(cluster, 'w1'))!
      const killedAt = Date.now()
      process.kill(victim, 'SIGKILL')
      await waitFor(async () => {
        const pid = await pidOf(cluster, 'w1')
        return pid !== undefined && pid !== victim && (await cluster.workers())[1]!.state === 'ready'
      }, 15_000)
      const respawnedAt = Date.now()
      // Some requests of w1's session answered by its replacement.
      await waitFor(() => load.samples.filter((x) => x.session === 1 && x.at > respawnedAt + 100).length >= 3)
      const samples = await load.stop()

      const timedOut = samples.filter((s) => s.error?.includes('timed out'))
      expect(timedOut, 'requests that hung').to.have.length(0)
      // Only requests in flight on the killed worker may fail (connection reset).
      const failed = samples.filter((s) => s.error !== undefined || s.status !== 200)
      expect(failed.length).to.be.at.most(6)

      const backup = new HashRing(['w0', 'w2']).get('w1')
      const w1 = samples.filter((s) => s.session === 1 && s.status === 200)
      const during = w1.filter((s) => s.at > killedAt + 50 && s.at < respawnedAt - 200)
      expect(during.length, 'w1 requests while it was down').to.be.above(5)
      for (const s of during) {
        if (s.body!.route === 'w1') continue // sent before the primary saw the exit
        expect(s.body).to.include({ route: backup, connectionRoute: 'w1' })
      }
      expect(during.filter((s) => s.body!.route === backup).length).to.be.above(3)
      const after = w1.filter((s) => s.at > respawnedAt + 100)
      expect(after.length).to.be.above(0)
      for (const s of after) expect(s.body!.route).to.equal('w1')
      // The others never moved.
      for (const s of samples.filter((x) => x.session !== 1 && x.status === 200)) {
        expect(s.body!.route).to.equal(ROUTES[s.session])
      }
      const metrics = await cluster.metrics()
      expect(metrics.restarts).to.equal(1)
      expect(metrics.fallbacks).to.be.above(3)
      expect(metrics.slots[1]!.restarts).to.equal(1)
    })

    it('gives up on a slot that keeps crashing, reports it, and routes its sessions to the backup', async () => {
      writeFileSync(crashFlag, '')
      try {
        process.kill((await pidOf(cluster, 'w2'))!, 'SIGKILL')
        await waitFor(async () => (await cluster.workers())[2]!.state === 'failed', 30_000, 200)
        expect(cluster.events).to.deep.include({ type: 'crash-loop', route: 'w2' })
        expect((await cluster.metrics()).crashLoops).to.equal(1)
        const response = await request(cluster.port, '/', { headers: { cookie: sessions.get('w2')!.cookie } })
        expect(response.body).to.include({
          route: new HashRing(['w0', 'w1']).get('w2'),
          connectionRoute: 'w2',
        })
      } finally {
        rmSync(crashFlag, { force: true })
      }
      // A reload (a deploy with the fix) brings the slot back.
      await cluster.reload()
      const workers = await cluster.workers()
      expect(workers.map((w) => w.state)).to.deep.equal(['ready', 'ready', 'ready'])
      const response = await request(cluster.port, '/', { headers: { cookie: sessions.get('w2')!.cookie } })
      expect(response.body.route).to.equal('w2')
    })
  })

  describe('reload()', () => {
    let cluster: ClusterFixture
    let sessions: Map<string, ClusterSession>
    before(async () => {
      cluster = await startClusterFixture({
        workers: 3,
        host: '127.0.0.1',
        secret: FIXTURE_SECRET,
        trustedProxies: ['loopback'],
      })
      sessions = await sessionsOnEveryWorker(cluster.port, ROUTES)
    })
    after(async () => cluster?.close())

    it('replaces every worker one at a time with zero failed requests under load', async () => {
      const before = await cluster.workers()
      const cookies = ROUTES.map((r) => sessions.get(r)!.cookie)
      const keepAlive = startLoad({
        port: cluster.port,
        cookies,
        concurrency: 4,
        keepAlive: true,
        path: '/slow?ms=5',
      })
      const fresh = startLoad({ port: cluster.port, cookies, concurrency: 2, keepAlive: false })
      const running = () => keepAlive.samples.length + fresh.samples.length
      await waitFor(() => running() >= 30) // the load is under way
      await cluster.reload()
      const reloaded = running()
      await waitFor(() => running() >= reloaded + 30) // and goes on after the reload
      const samples = [...(await keepAlive.stop()), ...(await fresh.stop())]
      const failed = samples.filter((s) => s.error !== undefined || s.status !== 200)
      expect(failed, JSON.stringify(failed.slice(0, 3))).to.have.length(0)
      expect(samples.length).to.be.above(100)
      const after = await cluster.workers()
      expect(after.map((w) => w.route)).to.deep.equal(ROUTES)
      after.forEach((w, i) => {
        expect(w.state).to.equal('ready')
        expect(w.pid).to.not.equal(before[i]!.pid)
      })
      for (const s of samples) expect(s.body!.route).to.equal(ROUTES[s.session])
    })
  })

  describe('no living worker', () => {
    it('answers 503 with Retry-After', async () => {
      const cluster = await startClusterFixture(
        { workers: 1, host: '127.0.0.1', restartDelay: 10, maxRestarts: 2, retryAfter: 3 },
        { crashFlag },
      )
      try {
        writeFileSync(crashFlag, '')
        process.kill((await pidOf(cluster, 'w0'))!, 'SIGKILL')
        await waitFor(async () => (await cluster.workers())[0]!.state === 'failed', 20_000, 100)
        const response = await request(cluster.port, '/')
        expect(response.status).to.equal(503)
        expect(response.headers['retry-after']).to.equal('3')
        expect(response.headers.connection).to.equal('close')
        expect((await cluster.metrics()).rejected.unavailable).to.equal(1)
      } finally {
        rmSync(crashFlag, { force: true })
        await cluster.close()
      }
    })
  })

  describe('start-up', () => {
    it('fails when a slot crash-loops before it is ready', async () => {
      writeFileSync(crashFlag, '')
      try {
        let error: Error | undefined
        await startClusterFixture(
          { workers: 2, host: '127.0.0.1', restartDelay: 10, maxRestarts: 3 },
          { crashFlag, expectFailure: true },
        ).catch((e: Error) => {
          error = e
        })
        expect(error?.message).to.match(/exited with code 1 before it was ready/)
        expect(error?.message).to.match(/worker w\d did not start: it exited 3 times within 60000 ms/)
      } finally {
        rmSync(crashFlag, { force: true })
      }
    })
  })

  describe('close() and SIGTERM', () => {
    it('lets requests in flight finish, then exits', async () => {
      const cluster = await startClusterFixture({ workers: 2, host: '127.0.0.1' })
      // Longer than a draining worker's idle check (two 250 ms ticks): it must still be served.
      const slow = request(cluster.port, '/slow?ms=1200')
      await new Promise((resolve) => setTimeout(resolve, 100))
      const closing = cluster.close()
      const response = await slow
      expect(response.status).to.equal(200)
      await closing
      expect(cluster.child.exitCode).to.equal(0)
    })

    it('drains and exits with code 0 on SIGTERM, taking the workers along', async () => {
      const cluster = await startClusterFixture({ workers: 2, host: '127.0.0.1', handleSignals: true })
      const pids = (await cluster.workers()).map((w) => w.pid!)
      const exited = new Promise<number | null>((resolve) =>
        cluster.child.once('exit', (code) => resolve(code)),
      )
      cluster.child.kill('SIGTERM')
      expect(await exited).to.equal(0)
      for (const pid of pids) {
        expect(() => process.kill(pid, 0), `worker ${pid} still alive`).to.throw()
      }
    })
  })
})
