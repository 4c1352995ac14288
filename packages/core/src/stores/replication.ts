// The seam between an in-process store and @tether/cluster's session replication. A MemoryStore in
// a cluster worker announces itself here; when the cluster turns replication on it attaches a
// feed, and from then on every change the store makes to a session goes out through it, to be
// applied on the backup worker with the same store's `apply`. Both sides find each other through
// globalThis, so two copies of the core in one process (ESM and CommonJS) still meet.

/** One change of a replicated session, as it travels between workers. Ids are hashed store ids. */
export type ReplicaOp =
  | {
      readonly op: 'write'
      readonly id: string
      /** The route of the session's cookie: the router's key for where its requests go. */
      readonly route: string
      readonly set: Readonly<Record<string, string>>
      readonly unset: readonly string[]
      readonly createdAt: number
      readonly touchedAt: number
      readonly expiresAt: number
      readonly established: boolean
      /** The whole record (a new session, a snapshot, a resend): replaces what the backup holds. */
      readonly full: boolean
      /** The record's seal as this change leaves it (encryption at rest). */
      readonly seal?: string | undefined
      /** The user the session belongs to (for destroyAll on whichever worker holds a copy). */
      readonly owner?: string | undefined
    }
  | {
      readonly op: 'touch'
      readonly id: string
      readonly route: string
      touchedAt: number
      expiresAt: number
    }
  | { readonly op: 'destroy'; readonly id: string; readonly route: string }

/** What a replicated store offers the cluster. */
export interface ReplicaSource {
  /** Applies a change that came from another worker (never sent on again); false when it was a gap. */
  apply(change: ReplicaOp): boolean
  /** Full records of every live session of `route`, for a new backup or a returning owner. */
  snapshot(route: string): ReplicaOp[]
  /** The current state of one session: its full record, or its destruction when it is gone. */
  current(id: string, route: string): ReplicaOp
  /** Forgets the sessions whose route `keep` refuses (copies this worker no longer needs). */
  drop(keep: (route: string) => boolean): number
}

/** What the cluster gives a replicated store. */
export interface ReplicaFeed {
  /** True in `'sync'` mode: writes are not done before `settled()` resolves. */
  readonly waits: boolean
  /** Queues one change for the backup. */
  changed(change: ReplicaOp): void
  /** Resolves once every change queued so far is acknowledged by the backup, or timed out. */
  settled(): Promise<void>
}

/** The cluster's side, installed in each worker when replication is on. */
export interface ReplicationHub {
  attach(source: ReplicaSource): ReplicaFeed
}

interface Registry {
  hub: ReplicationHub | undefined
  /** The cluster said replication is off: stores made from now on need not wait for a hub. */
  off: boolean
  readonly waiting: Array<(hub: ReplicationHub) => void>
}

const REGISTRY = Symbol.for('tether.replication')

function registry(): Registry {
  const g = globalThis as { [REGISTRY]?: Registry }
  g[REGISTRY] ??= { hub: undefined, off: false, waiting: [] }
  return g[REGISTRY]
}

/**
 * Called by a store that can be replicated: `connect` runs with the hub now if the cluster has
 * installed one, or when it does (a store made at import time, before startCluster ran).
 */
export function offerForReplication(connect: (hub: ReplicationHub) => void): void {
  const r = registry()
  if (r.hub !== undefined) connect(r.hub)
  else if (!r.off) r.waiting.push(connect)
}

/**
 * Installs the cluster's hub (once per worker) and connects the stores already waiting; with
 * `undefined` (replication off) it lets them go.
 */
export function installReplicationHub(hub: ReplicationHub | undefined): void {
  const r = registry()
  const waiting = r.waiting.splice(0)
  if (hub === undefined) {
    r.off = true
    r.hub = undefined
    return
  }
  r.off = false
  r.hub = hub
  for (const connect of waiting) connect(hub)
}
