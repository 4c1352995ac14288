import { expect } from 'chai'
import { describeWith } from '../support/system-binaries.js'
import { expectSound } from './assertions.js'
import { FULL, printChaosTable, runChaos } from './chaos-run.js'
import { reloadCluster } from './faults.js'

// cluster.reload() under load, again and again in the long run: each new worker takes its slot
// once ready and the old one drains its connections. The clients keep a connection per session
// open, so the old worker still answers requests after its successor took the slot (the case the
// drain has to get right). Allowed: nothing fails at all.

const RELOAD_GAP_MS = FULL ? 2_000 : 0
const WHAT = FULL ? 'reload() again and again, 2 s apart, keep-alive' : 'reload() once, keep-alive'

describe('chaos: reload() under load', function () {
  this.timeout(FULL ? 0 : 60_000)
  after(printChaosTable)

  it("MemoryStore + replication 'sync': zero failed requests, nothing lost", async () => {
    const result = await runChaos({
      name: `${WHAT}, MemoryStore + 'sync'`,
      store: 'memory',
      cluster: { replication: 'sync' },
      keepAlive: true,
      shortSeconds: 1,
      gapMs: RELOAD_GAP_MS,
      fault: (ctx) => reloadCluster(ctx.cluster),
    })
    expectSound(result, { recoveryMs: 0 })
    expect(result.figures.failed).to.deep.equal({})
    expect(result.restarts, 'a reload is not a crash').to.equal(0)
  })

  describeWith('redis-server', 'with a shared Redis', () => {
    for (const [store, name] of [
      ['redis', 'RedisStore'],
      ['hybrid', 'HybridStore'],
    ] as const) {
      it(`${name}: zero failed requests, nothing lost`, async () => {
        const result = await runChaos({
          name: `${WHAT}, ${name}`,
          store,
          keepAlive: true,
          shortSeconds: 1,
          gapMs: RELOAD_GAP_MS,
          fault: (ctx) => reloadCluster(ctx.cluster),
        })
        expectSound(result, { recoveryMs: 0 })
        expect(result.figures.failed).to.deep.equal({})
        expect(result.restarts).to.equal(0)
      })
    }
  })
})
