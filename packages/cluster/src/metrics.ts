import type { RejectReason } from './http-responses.js'
import type { ReplicationMetrics } from './replication/replication-coordinator.js'
import type { StrategyName } from './strategies/strategy.js'

/**
 * How a connection found its worker: a strategy, or `'first-visit'` when none claimed it and it
 * went to the worker with the fewest open connections.
 */
export type RoutedBy = StrategyName | 'first-visit'

/** One worker slot as metrics() shows it. */
export interface SlotSnapshot {
  readonly route: string
  /** Pid of the serving worker, undefined while the slot is empty. */
  readonly pid: number | undefined
  readonly state: 'starting' | 'ready' | 'restarting' | 'failed' | 'stopped'
  /** Open connections, as last reported by the worker plus those handed over since. */
  readonly connections: number
  /** Connections handed to this slot. */
  readonly routed: number
  /** Times this slot's worker was replaced after exiting on its own. */
  readonly restarts: number
  /** Requests served by this slot's workers, past ones included (as last reported). */
  readonly requests: number
  /**
   * Sessions in the in-process stores (MemoryStore) of the slot's worker, as last reported; with
   * replication this includes the copies it keeps for other workers. 0 with RedisStore.
   */
  readonly sessions: number
  /** Replaced workers of this slot still finishing their connections (reload()). */
  readonly draining: number
}

/** A point-in-time view of the router and the supervisor, safe to serialise as JSON. */
export interface ClusterMetricsSnapshot {
  /** Connections handed to a worker. */
  readonly routed: number
  /** Connections by the strategy that decided them. */
  readonly routedBy: Readonly<Record<RoutedBy, number>>
  /** Connections whose route named a worker that was down, sent to the ring's pick instead. */
  readonly fallbacks: number
  /** Requests that reached a worker not owning their session (reported by the workers). */
  readonly misroutes: number
  /** Connections the primary answered itself, by reason (400, 408, 431, 503). */
  readonly rejected: Readonly<Record<RejectReason, number>>
  /** Connections closed by the client before their request head was complete. */
  readonly aborted: number
  /** Hand-offs that failed (the worker died or its channel closed) and were routed again. */
  readonly handoffRetries: number
  /** Worker restarts after unexpected exits, all slots. */
  readonly restarts: number
  /** Slots given up on after crashing `maxRestarts` times within `restartWindow`. */
  readonly crashLoops: number
  /** Workers killed and replaced because they sent no heartbeat within `heartbeatTimeout`. */
  readonly hung: number
  /** Session copies to backup workers (`replication`); all zero with mode `'off'`. */
  readonly replication: ReplicationMetrics
  readonly slots: readonly SlotSnapshot[]
}

export const REPLICATION_OFF: ReplicationMetrics = Object.freeze({
  mode: 'off',
  sent: 0,
  acknowledged: 0,
  dropped: 0,
  withoutBackup: 0,
  unacknowledged: 0,
  lagMs: 0,
  pending: 0,
  snapshots: 0,
})

/** What the router counts: connections, how they were routed, and what it answered itself. */
export class RouterCounters {
  routed = 0
  readonly routedBy: Record<RoutedBy, number> = {
    cookie: 0,
    'url-param': 0,
    'client-ip': 0,
    'proxy-protocol': 0,
    'first-visit': 0,
  }
  fallbacks = 0
  readonly rejected: Record<RejectReason, number> = { badRequest: 0, timeout: 0, tooLarge: 0, unavailable: 0 }
  aborted = 0
  handoffRetries = 0
}

/** What the supervisor counts about the workers' lives. */
export class SupervisorCounters {
  restarts = 0
  crashLoops = 0
  hung = 0
}
