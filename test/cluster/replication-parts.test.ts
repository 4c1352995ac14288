import { HashRing } from '@tether/cluster'
import type { ReplicaOp, ReplicaSource } from '@tether/core/adapter'
import { expect } from 'chai'
import type { ReplicateMessage, WorkerMessage } from '../../packages/cluster/src/messages.js'
import { placeRoutes } from '../../packages/cluster/src/replication/replication-plan.js'
import { fromWire } from '../../packages/cluster/src/replication/wire.js'
import { WorkerReplication } from '../../packages/cluster/src/replication/worker-replication.js'
import { waitFor } from '../support/load-loop.js'

// The parts of replication that decide where copies go and how much may wait, on their own.

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

/** A store's side with `count` sessions of route w0, each with a version. */
function sourceOf(count: number): ReplicaSource & { versions: Map<string, number> } {
  const versions = new Map(Array.from({ length: count }, (_, i) => [`id${i}`, 0]))
  const record = (id: string): ReplicaOp => ({
    op: 'write',
    id,
    route: 'w0',
    set: { v: String(versions.get(id)) },
    unset: [],
    createdAt: 1,
    touchedAt: 1,
    expiresAt: Date.now() + 60_000,
    established: false,
    full: true,
  })
  return {
    versions,
    apply: () => true,
    snapshot: () => [...versions.keys()].map(record),
    current: (id) => record(id),
    drop: () => 0,
  }
}

/** A worker's replication whose messages to the primary are kept in `sent`. */
function recordingHub(mode: 'sync' | 'async', timeout: number) {
  const sent: ReplicateMessage[] = []
  const hub = new WorkerReplication(
    mode,
    timeout,
    (m: WorkerMessage) => {
      if (m.tether === 'replicate') sent.push(m)
    },
    'w0',
  )
  return { hub, sent }
}

describe('the worker side of replication', () => {
  it('bounds what waits for a stuck backup, counts the drops, and resends those sessions whole', async () => {
    const { hub, sent } = recordingHub('async', 1_000)
    const source = sourceOf(15_000)
    const feed = hub.attach(source)
    // Nothing is acknowledged: the backup is stuck. One change of each of 15,000 sessions.
    for (const id of source.versions.keys()) {
      source.versions.set(id, 1)
      feed.changed({ ...source.current(id, 'w0'), full: false } as ReplicaOp)
    }
    await waitFor(() => sent.length > 0)
    const stats = hub.stats()
    expect(stats.pending, 'changes held at most').to.equal(10_000)
    expect(stats.dropped).to.equal(5_000)
    // The backup catches up: every batch is acknowledged, and the dropped sessions come again, whole.
    const resent: ReplicaOp[] = []
    await waitFor(
      () => {
        for (const m of sent.splice(0)) {
          if (m.seq > 10) resent.push(...m.changes.map(fromWire))
          hub.onMessage({ tether: 'replicate-ack', acks: [[m.seq, 'applied']] } as never)
        }
        return resent.length === 5_000 && hub.stats().pending === 0
      },
      5_000,
      5,
    )
    for (const change of resent) {
      expect(change).to.include({ op: 'write', full: true })
      if (change.op === 'write') expect(change.set.v).to.equal('1')
    }
  })

  it('sends many changes of one session before its batch leaves as one', async () => {
    const { hub, sent } = recordingHub('async', 1_000)
    const source = sourceOf(100)
    const feed = hub.attach(source)
    for (let i = 0; i < 50_000; i++) {
      const id = `id${i % 100}`
      source.versions.set(id, i)
      feed.changed({ ...source.current(id, 'w0'), full: false } as ReplicaOp)
    }
    await waitFor(() => sent.length > 0)
    const changes = sent.flatMap((m) => m.changes.map(fromWire))
    expect(changes.length).to.equal(100)
    expect(hub.stats().dropped).to.equal(0)
    for (const change of changes) {
      if (change.op === 'write') expect(change.set.v).to.equal(String(source.versions.get(change.id)))
    }
  })

  it("'sync': a write waits for its batch's acknowledgement, and no longer than the timeout", async () => {
    const { hub, sent } = recordingHub('sync', 200)
    const source = sourceOf(1)
    const feed = hub.attach(source)
    expect(feed.waits).to.equal(true)
    feed.changed(source.current('id0', 'w0'))
    let done = false
    const settled = feed.settled().then(() => {
      done = true
    })
    await new Promise((resolve) => setImmediate(resolve))
    expect(sent.length).to.equal(1)
    expect(done).to.equal(false)
    hub.onMessage({ tether: 'replicate-ack', acks: [[sent[0]!.seq, 'applied']] } as never)
    await settled
    expect(hub.stats().unacknowledged).to.equal(0)
    // Never acknowledged: released after the timeout, and counted.
    feed.changed(source.current('id0', 'w0'))
    const started = Date.now()
    await feed.settled()
    expect(Date.now() - started).to.be.at.least(150)
    expect(hub.stats().unacknowledged).to.equal(1)
  })
})
