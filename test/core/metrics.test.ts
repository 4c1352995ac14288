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
      'rejectedByClient',
    ])
  })

  it('counts rejected cookies per client address in a bounded table, heaviest first', async () => {
    const metrics = new Metrics()
    metrics.countRejectedFrom('203.0.113.7', 40)
    // A thousand other addresses, once each: the table keeps the most recently seen 1,000.
    for (let i = 0; i < 1000; i++) metrics.countRejectedFrom(`198.51.${i >> 8}.${i & 255}`, 1)
    let top = (await metrics.snapshot()).rejectedByClient
    expect(top).to.have.length(10)
    expect(top.every((entry) => entry.count === 1)).to.equal(true)
    expect(top.map((entry) => entry.client)).to.not.include('203.0.113.7')
    // One that keeps trying stays, and comes first.
    metrics.countRejectedFrom('203.0.113.8', 1)
    for (let i = 0; i < 2000; i++) {
      metrics.countRejectedFrom('203.0.113.8', 1)
      metrics.countRejectedFrom(`192.0.2.${i % 250}`, 1)
    }
    top = (await metrics.snapshot()).rejectedByClient
    expect(top[0]).to.deep.equal({ client: '203.0.113.8', count: 2001 })
    metrics.countRejectedFrom(undefined, 5)
    metrics.countRejectedFrom('', 5)
    expect((await metrics.snapshot()).rejectedByClient.map((e) => e.client)).to.not.include('')
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
