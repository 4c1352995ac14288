import { HashRing } from '@tether/cluster'
import type { ReplicaOp } from '@tether/core/adapter'
import { expect } from 'chai'
import { placeRoutes } from '../../packages/cluster/src/replication/replication-plan.js'
import { merge } from '../../packages/cluster/src/replication/wire.js'
import { waitFor } from '../support/load-loop.js'
import { changeOf, planOf, startHub } from '../support/replica-hubs.js'
import { startSocketGate } from '../support/socket-gate.js'

// The parts of replication that decide where copies go and how much may wait, on their own (the
// worker side on real replica sockets, two workers' worth in this process).

const routes = Array.from({ length: 8 }, (_, i) => `w${i}`)

describe('replication placement', () => {
  it("puts each route's copies where the router falls back when the holder dies", () => {
    const members = new Map(routes.map((r) => [r, r]))
    const plan = placeRoutes(routes, members, 512)
    for (const route of routes) {
      const { holder, target } = plan.get(route)!
      expect(holder).to.equal(route)
      // The router's fallback: the ring of the living, without the dead owner.
      expect(target).to.equal(new HashRing(routes.filter((r) => r !== route)).get(route))
    }
  })

  it("moves a dead owner's route to its backup, and gives it a new backup there", () => {
    const living = routes.filter((r) => r !== 'w3')
    const before = placeRoutes(routes, new Map(routes.map((r) => [r, r])), 512)
    const after = placeRoutes(routes, new Map(living.map((r) => [r, r])), 512)
    const moved = after.get('w3')!
    expect(moved.holder).to.equal(before.get('w3')!.target)
    expect(moved.target).to.equal(new HashRing(living.filter((r) => r !== moved.holder)).get('w3'))
    expect(moved.target).to.not.equal(moved.holder)
  })

  it('has no backup with one worker', () => {
    const plan = placeRoutes(['w0', 'w1'], new Map([['w0', 'w0']]), 512)
    expect(plan.get('w0')).to.deep.equal({ holder: 'w0', target: undefined })
    expect(plan.get('w1')).to.deep.equal({ holder: 'w0', target: undefined })
  })

  it('HashRing.getExcluding agrees with a ring built without that node', () => {
    const ring = new HashRing(routes)
    for (let i = 0; i < 500; i++) {
      const key = `key-${i}`
      const excluded = routes[i % routes.length]!
      expect(ring.getExcluding(key, excluded)).to.equal(
        new HashRing(routes.filter((r) => r !== excluded)).get(key),
      )
    }
    expect(new HashRing(['only']).getExcluding('k', 'only')).to.equal(undefined)
  })
})

describe('merging two changes of one session', () => {
  const write = (set: Record<string, string>, unset: string[], full = false): ReplicaOp => ({
    op: 'write',
    id: 'id',
    route: 'w0',
    set,
    unset,
    createdAt: 1,
    touchedAt: 2,
    expiresAt: 3,
    established: false,
    full,
  })
  const fields = (change: ReplicaOp) =>
    change.op === 'write'
      ? { set: { ...change.set }, unset: [...change.unset].sort(), full: change.full }
      : change

  it('says what both say, keys set and keys removed alike', () => {
    expect(fields(merge(write({ a: '1', b: '1' }, []), write({ b: '2', c: '2' }, [])))).to.deep.equal({
      set: { a: '1', b: '2', c: '2' },
      unset: [],
      full: false,
    })
    expect(fields(merge(write({ a: '1', b: '1' }, ['x']), write({ c: '2', x: '2' }, ['a'])))).to.deep.equal({
      set: { b: '1', c: '2', x: '2' },
      unset: ['a'],
      full: false,
    })
    // A whole record with a change on top is still whole.
    expect(fields(merge(write({ a: '1' }, [], true), write({ a: '2' }, [])))).to.deep.equal({
      set: { a: '2' },
      unset: [],
      full: true,
    })
    expect(merge(write({ a: '1' }, []), { op: 'destroy', id: 'id', route: 'w0' })).to.deep.equal({
      op: 'destroy',
      id: 'id',
      route: 'w0',
    })
  })
})

describe('the worker side of replication', () => {
  const closing: Array<{ close(): unknown }> = []
  afterEach(async () => {
    for (const c of closing.splice(0)) await c.close()
  })

  /** An owner of w0 whose backup is behind a gate the test controls. */
  async function ownerAndBackup(mode: 'sync' | 'async', timeout: number, sessions: number) {
    const owner = await startHub('w0', mode, timeout, sessions)
    const backup = await startHub('w1', mode, timeout)
    const gate = await startSocketGate(backup.peer.address)
    closing.push(owner.hub, backup.hub, gate)
    backup.hub.onMessage(planOf(1, owner.peer, backup.peer))
    owner.hub.onMessage(planOf(1, owner.peer, { address: gate.address, key: backup.peer.key }))
    return { owner, backup, gate }
  }

  it('bounds what waits for a stuck backup, counts the drops, and resends those sessions whole', async () => {
    const { owner, backup, gate } = await ownerAndBackup('async', 1_000, 15_000)
    // The backup reads nothing: it is stuck. One change of each of 15,000 sessions.
    gate.hold()
    for (const id of owner.source.versions.keys()) {
      owner.source.versions.set(id, 1)
      owner.feed.changed(changeOf(owner.source, id))
    }
    await waitFor(() => owner.hub.stats().sent === 10_000)
    const stats = owner.hub.stats()
    expect(stats.pending, 'changes held at most').to.equal(10_000)
    expect(stats.dropped).to.equal(5_000)
    // The backup catches up: every batch is answered, and the dropped sessions come again, whole.
    gate.release()
    await waitFor(() => backup.source.applied.length === 15_000 && owner.hub.stats().pending === 0, 5_000)
    const resent = backup.source.applied.slice(10_000)
    for (const change of resent) {
      expect(change).to.include({ op: 'write', full: true })
      if (change.op === 'write') expect(change.set.v).to.equal('1')
    }
    expect(owner.hub.stats()).to.include({ sent: 15_000, acknowledged: 15_000, dropped: 5_000 })
  })

  it('sends many changes of one session before its batch leaves as one', async () => {
    const { owner, backup } = await ownerAndBackup('async', 1_000, 100)
    for (let i = 0; i < 50_000; i++) {
      const id = `id${i % 100}`
      owner.source.versions.set(id, i)
      owner.feed.changed(changeOf(owner.source, id))
    }
    await waitFor(() => owner.hub.stats().acknowledged === 100)
    expect(backup.source.applied.length).to.equal(100)
    expect(owner.hub.stats().dropped).to.equal(0)
    for (const change of backup.source.applied) {
      if (change.op === 'write') expect(change.set.v).to.equal(String(owner.source.versions.get(change.id)))
    }
  })

  it("'sync': a write waits for its backup's acknowledgement, and no longer than the timeout", async () => {
    const { owner, backup, gate } = await ownerAndBackup('sync', 200, 1)
    expect(owner.feed.waits).to.equal(true)
    gate.hold()
    owner.feed.changed(owner.source.current('id0', 'w0'))
    let done = false
    const settled = owner.feed.settled().then(() => {
      done = true
    })
    await waitFor(() => owner.hub.stats().sent === 1)
    expect(done).to.equal(false)
    gate.release()
    await settled
    expect(backup.source.applied.length).to.equal(1)
    expect(owner.hub.stats().unacknowledged).to.equal(0)
    // Never acknowledged: released after the timeout, and counted.
    gate.hold()
    owner.feed.changed(owner.source.current('id0', 'w0'))
    const started = Date.now()
    await owner.feed.settled()
    expect(Date.now() - started).to.be.at.least(150)
    expect(owner.hub.stats().unacknowledged).to.equal(1)
  })
})
