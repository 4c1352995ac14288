import { MemoryStore, SessionManager } from '@tether/core'
import {
  installReplicationHub,
  type ReplicaFeed,
  type ReplicaOp,
  type ReplicaSource,
  WAIT,
} from '@tether/core/adapter'
import { expect } from 'chai'

// The MemoryStore's side of the cluster's replication, with the cluster's part played by a hub
// that keeps what it is given: which changes go out, and how a copy applies changes from elsewhere.

const secret = 'a-secret-of-at-least-32-characters-for-replication'
const HOUR = 3_600_000

interface Attached {
  source: ReplicaSource
  changes: ReplicaOp[]
  settled: number
}

/** A MemoryStore made as in a cluster worker (route `w7`), attached to a recording hub. */
function replicatedStore(waits = false, options = {}): { store: MemoryStore; attached: Attached } {
  const before = process.env.TETHER_ROUTE
  process.env.TETHER_ROUTE = 'w7'
  let attached: Attached | undefined
  try {
    installReplicationHub({
      attach(source): ReplicaFeed {
        const a: Attached = { source, changes: [], settled: 0 }
        attached = a
        return {
          waits,
          changed: (change) => a.changes.push(change),
          settled: async () => {
            a.settled++
          },
        }
      },
    })
    const store = new MemoryStore(options)
    return { store, attached: attached! }
  } finally {
    installReplicationHub(undefined)
    if (before === undefined) delete process.env.TETHER_ROUTE
    else process.env.TETHER_ROUTE = before
  }
}

function write(set: Record<string, string>, create: boolean, extra = {}) {
  const now = Date.now()
  return {
    set,
    unset: [],
    createdAt: now,
    touchedAt: now,
    expiresAt: now + HOUR,
    established: false,
    create,
    ...extra,
  }
}

describe('MemoryStore under replication', () => {
  it('is not attached outside a cluster worker', () => {
    const store = new MemoryStore()
    expect(store.writesWait).to.equal(false)
    void store.close()
  })

  it('sends a new record whole, later changes alone, touches, destroys and evictions', async () => {
    const { store, attached } = replicatedStore(false, { maxSessions: 2 })
    store.writeNow('a', write({ x: '1', y: '2' }, true))
    store.writeNow('a', { ...write({ x: '3' }, false), unset: ['y'] })
    store.touchNow('a', Date.now(), Date.now() + 2 * HOUR)
    await store.destroy('a')
    store.writeNow('b', write({ v: '1' }, true))
    store.writeNow('c', write({ v: '2' }, true))
    store.writeNow('d', write({ v: '3' }, true)) // evicts b, the least recently active
    const kinds = attached.changes.map((c) => [c.op, c.id, c.op === 'write' ? c.full : undefined])
    expect(kinds).to.deep.equal([
      ['write', 'a', true],
      ['write', 'a', false],
      ['touch', 'a', undefined],
      ['destroy', 'a', undefined],
      ['write', 'b', true],
      ['write', 'c', true],
      ['destroy', 'b', undefined],
      ['write', 'd', true],
    ])
    const second = attached.changes[1] as Extract<ReplicaOp, { op: 'write' }>
    expect(second.set).to.deep.equal({ x: '3' })
    expect(second.unset).to.deep.equal(['y'])
    expect(attached.changes.every((c) => c.route === 'w7')).to.equal(true)
    await store.clear()
    expect(attached.changes.slice(-2).map((c) => c.op)).to.deep.equal(['destroy', 'destroy'])
    await store.close()
  })

  it('keeps the route of the cookie a write names, and snapshots, resends and drops by route', async () => {
    const { store, attached } = replicatedStore()
    store.writeNow('own', write({ v: '1' }, true))
    store.writeNow('theirs', write({ v: '2' }, true, { route: 'w3' }))
    expect(attached.source.snapshot('w3').map((c) => c.id)).to.deep.equal(['theirs'])
    expect(attached.source.current('theirs', 'w3')).to.include({ op: 'write', full: true })
    expect(attached.source.current('nobody', 'w3')).to.deep.equal({
      op: 'destroy',
      id: 'nobody',
      route: 'w3',
    })
    expect(attached.source.drop((route) => route === 'w7')).to.equal(1)
    expect(store.getNow('theirs')).to.equal(undefined)
    expect(store.getNow('own')?.fields).to.deep.equal({ v: '1' })
    await store.close()
  })

  it('applies changes from another worker without sending them on', async () => {
    const { store, attached } = replicatedStore()
    const source = attached.source
    const now = Date.now()
    const whole = {
      op: 'write' as const,
      id: 'r',
      route: 'w2',
      set: { a: '1', b: '2' },
      unset: [],
      createdAt: now,
      touchedAt: now,
      expiresAt: now + HOUR,
      established: true,
      full: true,
    }
    expect(source.apply({ ...whole, id: 'gap', full: false })).to.equal(false) // a change to a record never had
    expect(source.apply(whole)).to.equal(true)
    expect(source.apply({ ...whole, set: { a: '3' }, unset: ['b'], full: false })).to.equal(true)
    expect(store.getNow('r')?.fields).to.deep.equal({ a: '3' })
    expect(source.apply({ ...whole, set: { c: '4' } })).to.equal(true) // whole again: replaces
    expect(store.getNow('r')?.fields).to.deep.equal({ c: '4' })
    expect(
      source.apply({ op: 'touch', id: 'r', route: 'w2', touchedAt: now + 1, expiresAt: now + 2 * HOUR }),
    ).to.equal(true)
    expect(
      source.apply({ op: 'touch', id: 'none', route: 'w2', touchedAt: now, expiresAt: now + HOUR }),
    ).to.equal(false)
    expect(source.apply({ ...whole, id: 'old', expiresAt: now - 1 })).to.equal(true) // already expired: not kept
    expect(store.getNow('old')).to.equal(undefined)
    expect(source.apply({ op: 'destroy', id: 'r', route: 'w2' })).to.equal(true)
    expect(store.getNow('r')).to.equal(undefined)
    expect(attached.changes).to.deep.equal([])
    await store.close()
  })

  it("'sync': the session manager's commit waits for the backup, the store's async forms too", async () => {
    const { store, attached } = replicatedStore(true)
    expect(store.writesWait).to.equal(true)
    const manager = new SessionManager({ secret, store })
    const ctx = await manager.open(undefined)
    ctx.session.set('n', 1)
    expect(ctx.commitNow(false)).to.equal(WAIT)
    const cookie = await ctx.commit(false)
    ctx.release()
    expect(cookie).to.be.a('string')
    expect(attached.settled).to.equal(1)
    await store.write('x', write({ v: '1' }, true))
    await store.touch('x', Date.now(), Date.now() + HOUR)
    await store.destroy('x')
    await store.settled()
    expect(attached.settled).to.equal(5)
    await manager.close()
    await store.close()
  })
})
