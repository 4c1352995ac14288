// Two workers' replication in one process, on real replica sockets: an owner whose route is w0
// and a backup, each with a store side that counts what it holds and what was applied to it.
import type { ReplicaFeed, ReplicaOp, ReplicaSource } from '@tether/core/adapter'
import type { ReplicaPlanMessage, WorkerMessage } from '../../packages/cluster/src/messages.js'
import type { ReplicaPeer } from '../../packages/cluster/src/replication/peer-link.js'
import { WorkerReplication } from '../../packages/cluster/src/replication/worker-replication.js'

/** A store's side with `count` sessions of route w0, each with a version; `applied` are changes received. */
export interface TestSource extends ReplicaSource {
  readonly versions: Map<string, number>
  readonly applied: ReplicaOp[]
}

export function sourceOf(count: number): TestSource {
  const versions = new Map(Array.from({ length: count }, (_, i) => [`id${i}`, 0]))
  const applied: ReplicaOp[] = []
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
    applied,
    apply: (change) => {
      applied.push(change)
      return true
    },
    snapshot: () => [...versions.keys()].map(record),
    current: (id) => record(id),
    drop: () => 0,
  }
}

/** A change of session `id` (not a whole record), at its current version. */
export function changeOf(source: TestSource, id: string): ReplicaOp {
  return { ...source.current(id, 'w0'), full: false } as ReplicaOp
}

export interface TestHub {
  readonly hub: WorkerReplication
  readonly peer: ReplicaPeer
  readonly source: TestSource
  /** What the store writes its changes to. */
  readonly feed: ReplicaFeed
  /** Messages to the primary. */
  readonly messages: WorkerMessage[]
}

export async function startHub(
  route: string,
  mode: 'sync' | 'async',
  timeout: number,
  sessions = 0,
): Promise<TestHub> {
  const messages: WorkerMessage[] = []
  const hub = new WorkerReplication({ mode, timeout, route, send: (m) => messages.push(m) })
  const peer = await hub.listen()
  const source = sourceOf(sessions)
  const feed = hub.attach(source)
  return { hub, peer, source, feed, messages }
}

/**
 * The plan in which w0 is held by `owner` and backed up at `backup` (another worker's socket, or a
 * gate in front of it), as the primary would send it.
 */
export function planOf(epoch: number, owner: ReplicaPeer, backup: ReplicaPeer): ReplicaPlanMessage {
  return { tether: 'replica-plan', epoch, peers: [owner, backup], routes: [['w0', 0, 1]] }
}
