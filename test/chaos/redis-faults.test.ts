import { expect } from 'chai'
import { describeWith } from '../support/system-binaries.js'
import { expectSound } from './assertions.js'
import { FULL, printChaosTable, runChaos } from './chaos-run.js'
import { freezeRedis, stopRedis } from './faults.js'

// redis-server stopped and started again, or frozen with SIGSTOP, under load. Allowed: 503 with
// Retry-After for every request that needs its session while Redis cannot answer (at once when the
// connection is down, after the store's 2 s timeout when Redis is frozen); nothing else fails. The
// app recovers on its own: no worker is restarted, and nothing acknowledged is lost (Redis keeps an
// append-only file, so the stop is an outage, not a wipe).

const STOP_MS = FULL ? 5_000 : 2_000
const FREEZE_MS = FULL ? 6_000 : 3_000
const STORES = [
  ['redis', 'RedisStore'],
  ['hybrid', 'HybridStore'],
] as const

describeWith('redis-server', 'chaos: Redis stopped and frozen under load', function () {
  this.timeout(FULL ? 0 : 90_000)
  before(function () {
    if (process.env.REDIS_URL) this.skip() // these stop and freeze a server of their own
  })
  after(printChaosTable)

  for (const [store, name] of STORES) {
    it(`redis-server stopped and restarted (${name}): 503 + Retry-After, then recovery`, async () => {
      const result = await runChaos({
        name: `redis-server stopped ${STOP_MS / 1000} s and restarted, ${name}`,
        store,
        shortSeconds: 1,
        gapMs: 5_000,
        fault: (ctx) => stopRedis(ctx.redis!, STOP_MS),
      })
      expectSound(result, { recoveryMs: 5_000, mustSee: ['503'] })
      expect(result.restarts, 'no worker restarted').to.equal(0)
    })

    it(`redis-server frozen with SIGSTOP (${name}): 503 + Retry-After after the store timeout, then recovery`, async () => {
      const result = await runChaos({
        name: `redis-server frozen ${FREEZE_MS / 1000} s (SIGSTOP), ${name}`,
        store,
        shortSeconds: 1,
        gapMs: 5_000,
        fault: (ctx) => freezeRedis(ctx.redis!, FREEZE_MS),
      })
      expectSound(result, { recoveryMs: 3_000, mustSee: ['503'] })
      expect(result.restarts, 'no worker restarted').to.equal(0)
      expect(result.hung, 'a worker waiting for Redis still sends its heartbeat').to.equal(0)
    })
  }
})
