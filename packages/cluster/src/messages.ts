// The IPC messages between the primary and its workers. Every one carries `tether` so that they
// never collide with the app's own process.send() traffic.

import type { ClusterMetricsSnapshot } from './metrics.js'
import type { WireChange } from './replication/wire.js'
import type {
  DestroyedUserMessage,
  DestroyUserMessage,
  EndedUserMessage,
  EndUserMessage,
} from './user-sessions-relay.js'

/** Primary -> worker, with the socket handle: serve this connection. */
export interface ConnectionMessage {
  readonly tether: 'connection'
  /** The bytes the primary already read (the request head and maybe some body), base64. */
  readonly head: string
  /** Set when the connection was routed here for another route's sessions (their owner is down). */
  readonly connectionRoute?: string | undefined
  /** True when the first request's own session cookie chose this worker: it is not misrouted. */
  readonly byCookie?: boolean
}

/** Primary -> worker: finish your connections and exit. */
export interface DrainMessage {
  readonly tether: 'drain'
}

/** Worker -> primary: the app is built, send connections. */
export interface ReadyMessage {
  readonly tether: 'ready'
  /** With replication on: how many MemoryStores the app attached (0 means nothing to copy). */
  readonly replicatedStores?: number
}

/** Worker -> primary, throttled: what the worker counts itself. */
export interface StatsMessage {
  readonly tether: 'stats'
  /** Connections open right now. */
  readonly connections: number
  /** Requests since start whose session belongs to another worker. */
  readonly misroutes: number
  /** Requests since start. */
  readonly requests: number
  /** Sessions in the worker's in-process stores right now (backup copies included). */
  readonly sessions: number
  /** With replication on. */
  readonly replication?: WorkerReplicationStats
}

/** Worker -> primary, from the worker's event loop: still answering (see heartbeatTimeout). */
export interface HeartbeatMessage {
  readonly tether: 'heartbeat'
}

/** Worker -> primary: send me the cluster's metrics (what `cluster.metrics()` gives), tagged `ref`. */
export interface MetricsRequestMessage {
  readonly tether: 'metrics-request'
  readonly ref: number
}

/** Primary -> worker: the answer to MetricsRequestMessage `ref`. */
export interface MetricsReplyMessage {
  readonly tether: 'metrics'
  readonly ref: number
  readonly metrics: ClusterMetricsSnapshot
}

/** One change of a replicated store, with the store's index in its worker (see wire.ts). */
export type ReplicaEntry = WireChange

/** Worker -> primary: changes for the backups, in the order they were made. */
export interface ReplicateMessage {
  readonly tether: 'replicate'
  readonly seq: number
  readonly changes: readonly ReplicaEntry[]
  /** Snapshots (see SnapshotMessage) whose last change is in this batch. */
  readonly snapshotsDone?: readonly number[]
}

/** How a batch ended: applied, lost on the way (its sessions are sent again), or nobody to back it up. */
export type BatchOutcome = 'applied' | 'lost' | 'no-backup'

/** Primary -> worker: how its batches ended (those that ended in one turn, together). */
export interface ReplicateAckMessage {
  readonly tether: 'replicate-ack'
  readonly acks: ReadonlyArray<readonly [seq: number, outcome: BatchOutcome]>
}

/** Primary -> worker: apply these changes from another worker, then answer with AppliedMessage. */
export interface ApplyMessage {
  readonly tether: 'replica-apply'
  readonly ref: number
  readonly changes: readonly ReplicaEntry[]
}

/** Worker -> primary: the changes of these ApplyMessages are applied (`gaps[i]` of `refs[i]`'s had no record). */
export interface AppliedMessage {
  readonly tether: 'replica-applied'
  readonly refs: readonly number[]
  readonly gaps: readonly number[]
}

/** Primary -> worker, whenever the living workers change: the routes it serves and keeps copies of. */
export interface ReplicaPlanMessage {
  readonly tether: 'replica-plan'
  /** Routes whose requests come here. */
  readonly holds: readonly string[]
  /** Routes whose sessions this worker keeps (held ones and backed-up ones); the rest are dropped. */
  readonly keeps: readonly string[]
}

/** Primary -> worker: send every session of `route` (to whoever needs it now), then mark `tag` done. */
export interface SnapshotMessage {
  readonly tether: 'replica-snapshot'
  readonly route: string
  readonly tag: number
}

/** What a worker reports of its replication in StatsMessage (counts since it started). */
export interface WorkerReplicationStats {
  /** Changes dropped because the queue to the backup was full (they are sent again later). */
  readonly dropped: number
  /** Writes whose response went out before the backup acknowledged ('sync', replicationTimeout). */
  readonly unacknowledged: number
  /** Age of the oldest change not yet acknowledged, in ms (what a crash now could lose). */
  readonly lagMs: number
  /** Changes queued or in flight right now. */
  readonly pending: number
}

export type PrimaryMessage =
  | ConnectionMessage
  | DrainMessage
  | ReplicateAckMessage
  | ApplyMessage
  | ReplicaPlanMessage
  | SnapshotMessage
  | MetricsReplyMessage
  | EndUserMessage
  | DestroyedUserMessage
export type WorkerMessage =
  | ReadyMessage
  | StatsMessage
  | HeartbeatMessage
  | ReplicateMessage
  | AppliedMessage
  | MetricsRequestMessage
  | DestroyUserMessage
  | EndedUserMessage

/** The environment variable naming a worker's slot index (its route is in TETHER_ROUTE). */
export const SLOT_ENV = 'TETHER_SLOT'

export function isTetherMessage(message: unknown): message is { tether: string } {
  return (
    typeof message === 'object' &&
    message !== null &&
    typeof (message as { tether?: unknown }).tether === 'string'
  )
}
