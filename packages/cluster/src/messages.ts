// The IPC messages between the primary and its workers. Every one carries `tether` so that they
// never collide with the app's own process.send() traffic.

import type { ClusterMetricsSnapshot } from './metrics.js'
import type { ReplicaPeer } from './replication/peer-link.js'
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

/**
 * Primary -> worker: finish your connections and exit. No connection is handed over after it, so
 * the worker may exit once it is idle.
 */
export interface DrainMessage {
  readonly tether: 'drain'
}

/**
 * Worker -> primary: a signal the primary did not send (SIGTERM, SIGINT) asks me to go; replace me,
 * then send 'drain'.
 */
export interface LeavingMessage {
  readonly tether: 'leaving'
}

/** Worker -> primary: the app is built, send connections. */
export interface ReadyMessage {
  readonly tether: 'ready'
  /** With replication on: how many MemoryStores the app attached (0 means nothing to copy). */
  readonly replicatedStores?: number
  /** With replication on: the socket the other workers send this one their copies on. */
  readonly replica?: ReplicaPeer
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

/**
 * Primary -> every ready worker, whenever the living workers change: where each route's sessions
 * live. A worker among `peers` serves the routes it holds and keeps copies of those it is the
 * backup of (dropping the rest); every worker sends its changes of a route to the route's holder,
 * or to its backup when it is the holder itself.
 */
export interface ReplicaPlanMessage {
  readonly tether: 'replica-plan'
  /** Grows with every plan; each batch carries the epoch its destination was chosen by. */
  readonly epoch: number
  /** The workers placed (the living ones the router sends to). */
  readonly peers: readonly ReplicaPeer[]
  /** Each route with the index in `peers` of its holder and of its backup (-1: none). */
  readonly routes: ReadonlyArray<readonly [route: string, holder: number, backup: number]>
}

/** Primary -> worker: send every session of `route` (to whoever needs it now), then mark `tag` done. */
export interface SnapshotMessage {
  readonly tether: 'replica-snapshot'
  readonly route: string
  readonly tag: number
}

/** Worker -> primary: the snapshots of these tags are applied by their destination (or lost on the way). */
export interface SnapshotDoneMessage {
  readonly tether: 'replica-snapshot-done'
  readonly tags: readonly number[]
}

/** What a worker reports of its replication in StatsMessage (counts since it started). */
export interface WorkerReplicationStats {
  /** Changes it sent to be copied (or had no backup for). */
  readonly sent: number
  /** Changes its backups applied. */
  readonly acknowledged: number
  /** Changes made while no other worker was there to keep a copy. */
  readonly withoutBackup: number
  /** Changes dropped because a queue was full or a backup was lost with them (sent again later). */
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
  | ReplicaPlanMessage
  | SnapshotMessage
  | MetricsReplyMessage
  | EndUserMessage
  | DestroyedUserMessage
export type WorkerMessage =
  | ReadyMessage
  | LeavingMessage
  | StatsMessage
  | HeartbeatMessage
  | SnapshotDoneMessage
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
