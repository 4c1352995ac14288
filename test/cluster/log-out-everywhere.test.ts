// "Log out everywhere" on a 3-worker cluster with MemoryStore: each worker holds its own sessions
// (and, with replication, copies of others'), so destroyAll() in one worker must reach them all.
import { expect } from 'chai'
import { type ClusterFixture, startClusterFixture } from '../support/cluster-fixture.js'
import { request } from '../support/http-client.js'
import { waitFor } from '../support/load-loop.js'
import { type ClusterSession, createSession } from '../support/sessions.js'
import { FIXTURE_SECRET } from './fixtures/session-cluster.js'

/** Sessions of `user` until there is one on each worker (first visits rotate over the workers). */
async function sessionsOnEachWorker(port: number, user: string, workers: number): Promise<ClusterSession[]> {
  const sessions: ClusterSession[] = []
  for (let i = 0; i < 30 && new Set(sessions.map((s) => s.route)).size < workers; i++)
    sessions.push(await createSession(port, user, '127.0.0.1'))
  expect(new Set(sessions.map((s) => s.route)).size).to.equal(workers)
  return sessions
}

async function userOf(port: number, session: ClusterSession): Promise<unknown> {
  return (await request(port, '/', { headers: { cookie: session.cookie } })).body.user
}

for (const replication of ['off', 'sync'] as const) {
  describe(`log out everywhere on a 3-worker cluster (replication ${replication})`, function () {
    this.timeout(60_000)
    let cluster: ClusterFixture
    before(async () => {
      cluster = await startClusterFixture({
        workers: 3,
        host: '127.0.0.1',
        secret: FIXTURE_SECRET,
        replication,
        restartDelay: 100,
      })
    })
    after(() => cluster?.close())

    it("ends the user's sessions on every worker, from any worker, and no one else's", async () => {
      const alice = await sessionsOnEachWorker(cluster.port, 'alice', 3)
      const bob = await sessionsOnEachWorker(cluster.port, 'bob', 3)
      const answer = await request(cluster.port, '/destroy-all?user=alice')
      expect(answer.body.error).to.equal(undefined)
      expect(answer.body.ended).to.equal(alice.length)
      for (const session of alice) expect(await userOf(cluster.port, session)).to.equal(null)
      for (const session of bob) expect(await userOf(cluster.port, session)).to.equal('bob')
    })

    if (replication === 'sync') {
      it('leaves no copy on a backup to come back when the owner dies', async () => {
        const carol = await sessionsOnEachWorker(cluster.port, 'carol', 3)
        expect((await request(cluster.port, '/destroy-all?user=carol')).body.ended).to.equal(carol.length)
        const victim = carol[0]!
        const pid = (await cluster.workers()).find((w) => w.route === victim.route)!.pid!
        process.kill(pid, 'SIGKILL')
        // Its requests go to the backup now, which must not have the session either.
        await waitFor(
          async () => (await cluster.workers()).find((w) => w.route === victim.route)!.pid !== pid,
        )
        for (const session of carol) expect(await userOf(cluster.port, session)).to.equal(null)
      })

      it("finds the copies too: a dead owner's sessions, held by the backup, end as well", async () => {
        await waitFor(async () => (await cluster.workers()).every((w) => w.state === 'ready'))
        const dave = await sessionsOnEachWorker(cluster.port, 'dave', 3)
        const victim = dave[0]!
        const pid = (await cluster.workers()).find((w) => w.route === victim.route)!.pid!
        process.kill(pid, 'SIGKILL')
        // The backup holds it now (or the replacement got it back from the backup). No request of it
        // comes first: a write there would tie the copy to its user again.
        expect((await request(cluster.port, '/destroy-all?user=dave')).body.ended).to.equal(dave.length)
        for (const session of dave) expect(await userOf(cluster.port, session)).to.equal(null)
        await waitFor(async () => (await cluster.workers()).every((w) => w.state === 'ready'))
        for (const session of dave) expect(await userOf(cluster.port, session)).to.equal(null)
      })
    }
  })
}
