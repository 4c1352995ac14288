import { expect } from 'chai'
import { describeWith } from '../support/system-binaries.js'
import { expectSound } from './assertions.js'
import { FULL, printChaosTable, runChaos } from './chaos-run.js'
import { reloadCluster } from './faults.js'

// cluster.reload() under load, again and again in the long run: each new worker takes its slot
// once ready and the old one drains its connections. The clients keep a connection per session
// open, so the old worker still answers requests after its successor took the slot (the case the
// drain has to get right). Allowed: only a request sent on a pooled connection at the moment the
// draining worker closes it as idle ('stale': no byte of an answer, and it never ran, which the
// session's next answer shows); nothing else fails.

const RELOAD_GAP_MS = FULL ? 2_000 : 0
const WHAT = FULL ? 'reload() again and again, 2 s apart, keep-alive' : 'reload() once, keep-alive'

describe('chaos: reload() under load', function () {
  this.timeout(FULL ? 0 : 90_000)
  after(printChaosTable)

  it("MemoryStore + replication 'sync': only stale keep-alive requests fail, none of them ran; nothing lost", async () => {
    const result = await runChaos({
      name: `${WHAT}, MemoryStore + 'sync'`,
      store: 'memory',
      cluster: { replication: 'sync' },
      keepAlive: true,
      shortSeconds: 1,
      gapMs: RELOAD_GAP_MS,
      fault: (ctx) => reloadCluster(ctx.cluster),
    })
    expectSound(result, { recoveryMs: 2_000 })
    expect(result.restarts, 'a reload is not a crash').to.equal(0)
  })

  describeWith('redis-server', 'with a shared Redis', () => {
    for (const [store, name] of [
      ['redis', 'RedisStore'],
      ['hybrid', 'HybridStore'],
    ] as const) {
      it(`${name}: only stale keep-alive requests fail, none of them ran; nothing lost`, async () => {
        const result = await runChaos({
          name: `${WHAT}, ${name}`,
          store,
          keepAlive: true,
          shortSeconds: 1,
          gapMs: RELOAD_GAP_MS,
          fault: (ctx) => reloadCluster(ctx.cluster),
        })
        expectSound(result, { recoveryMs: 2_000 })
        expect(result.restarts).to.equal(0)
      })
    }
  })
})
