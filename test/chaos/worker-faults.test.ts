import { expect } from 'chai'
import { describeWith } from '../support/system-binaries.js'
import { expectSound } from './assertions.js'
import { FULL, printChaosTable, runChaos } from './chaos-run.js'
import { killWorker, pauseWorker } from './faults.js'

// Workers killed with SIGKILL or stopped with SIGSTOP while counter sessions are under load.
// Allowed: the requests the dead (or hung) worker had accepted break ('reset'), and so does, with
// keep-alive, a request sent on a pooled connection to it ('stale'); a store call of a stopped
// worker may time out meanwhile (503 with Retry-After). Nothing else fails.
// A worker's sessions go to the ring's pick meanwhile, and back when its slot is refilled: with a
// shared Redis they are read there; with MemoryStore, 'sync' replication put a copy there first.
// With keep-alive, a client's pooled connection goes on bringing its session to the worker that
// stood in for the owner after the owner is back: answered there or misrouted, never stale.

const KILL_GAP_MS = FULL ? 3_000 : 1_500

describe('chaos: workers killed and stopped under load', function () {
  this.timeout(FULL ? 0 : 90_000)
  after(printChaosTable)

  describeWith('redis-server', 'with a shared Redis', () => {
    // HybridStore with keep-alive: a pooled connection keeps bringing a session to the worker that
    // served it during its owner's absence, so two workers' caches take turns with it.
    for (const [store, name, keepAlive] of [
      ['redis', 'RedisStore', false],
      ['hybrid', 'HybridStore', true],
    ] as const) {
      const connections = keepAlive ? 'keep-alive' : 'a connection per request'
      it(`kill -9 of random workers (${name}, ${connections}): nothing lost or mixed up`, async () => {
        const result = await runChaos({
          name: `kill -9 a random worker every ${KILL_GAP_MS / 1000} s, ${name}, ${connections}`,
          store,
          keepAlive,
          shortSeconds: 4,
          gapMs: KILL_GAP_MS,
          fault: (ctx) => killWorker(ctx.cluster, ctx.random),
        })
        expectSound(result, { recoveryMs: 2_000 })
        expect(result.restarts, 'every killed worker replaced').to.equal(result.windows.length)
      })
    }

    it('SIGSTOP and SIGCONT of a worker: a short stop only delays, a long one is a hung worker', async () => {
      const heartbeatTimeout = 2_500
      const pauses = [800, 4_000]
      const result = await runChaos({
        name: 'SIGSTOP a worker for 0.8 s or 4 s (heartbeat 2.5 s), RedisStore',
        store: 'redis',
        cluster: { heartbeatTimeout },
        shortSeconds: 4,
        // Room for recovery before the next stop, whose delay would otherwise count as this one's.
        gapMs: FULL ? 3_000 : 1_000,
        oneAtATime: true,
        fault: (ctx, i) => pauseWorker(ctx.cluster, ctx.random, pauses[i % 2]!, heartbeatTimeout),
      })
      expectSound(result, { recoveryMs: 2_000 })
      const long = result.windows.filter((w) => w.fault.includes('hung')).length
      expect(result.hung, 'only the long stops count as hung').to.equal(long)
      expect(result.restarts).to.equal(long)
    })
  })

  for (const keepAlive of [false, true]) {
    const connections = keepAlive ? 'keep-alive' : 'a connection per request'
    it(`kill -9 of random workers (MemoryStore, 'sync', one at a time, ${connections}): nothing lost`, async () => {
      const result = await runChaos({
        name: `kill -9 a random worker every ${KILL_GAP_MS / 1000} s once all are up, MemoryStore + 'sync', ${connections}`,
        store: 'memory',
        cluster: { replication: 'sync' },
        keepAlive,
        shortSeconds: 4,
        gapMs: KILL_GAP_MS,
        // 'sync' keeps one copy of each session: two workers down at once may be a session's owner
        // and its backup.
        oneAtATime: true,
        fault: (ctx) => killWorker(ctx.cluster, ctx.random),
      })
      expectSound(result, { recoveryMs: 2_000 })
      expect(result.restarts).to.equal(result.windows.length)
      // Pooled connections kept bringing sessions to the backup after their owner was back.
      if (keepAlive) expect(result.misroutes, 'the misroute path was taken').to.be.above(0)
    })
  }
})
