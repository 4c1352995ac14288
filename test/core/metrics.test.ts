import { MemoryStore, Metrics, SessionManager } from '@tether/core'
import { expect } from 'chai'
import { Registry } from 'prom-client'

describe('Metrics', () => {
  it('snapshots every counter and the hit rate as plain JSON', async () => {
    const metrics = new Metrics()
    metrics.increment('loadHits', 3)
    metrics.increment('loadMisses')
    const snapshot = await metrics.snapshot()
    expect(snapshot.hitRate).to.equal(0.75)
    expect(JSON.parse(JSON.stringify(snapshot))).to.deep.equal(snapshot)
    expect(snapshot).to.have.keys([
      'created',
      'destroyed',
      'expired',
      'regenerated',
      'touched',
      'loadHits',
      'loadMisses',
      'rejectedFormat',
      'rejectedMac',
      'decryptFailures',
      'storeErrors',
      'reissued',
      'cacheHits',
      'cacheMisses',
      'evictions',
      'misroutes',
      'hitRate',
    ])
  })

  it('exposes counters and active sessions to a prom-client registry', async () => {
    const manager = new SessionManager({ secret: 'm'.repeat(32), store: new MemoryStore() })
    const registry = new Registry()
    await manager.metrics.registerPrometheus(registry)
    const ctx = await manager.open('tether.sid=forged')
    ctx.session.set('n', 1)
    await ctx.commit(false)
    ctx.release()
    const text = await registry.metrics()
    expect(text).to.contain('# TYPE tether_created_total counter')
    expect(text).to.match(/^tether_created_total 1$/m)
    expect(text).to.match(/^tether_rejected_format_total 1$/m)
    expect(text).to.match(/^tether_active_sessions 1$/m)
    await manager.close()
  })
})
