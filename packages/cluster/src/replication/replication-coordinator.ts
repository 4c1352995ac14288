import type {
  ReplicaPlanMessage,
  SnapshotDoneMessage,
  SnapshotMessage,
  WorkerReplicationStats,
} from '../messages.js'
import type { ReplicaPeer } from './peer-link.js'
import { removeReplicaSocket } from './peer-listener.js'
import { type Placement, placeRoutes } from './replication-plan.js'

// The primary's side of session replication: it decides who keeps the copies of what, and the
// workers move the copies themselves, straight to each other (see worker-replication.ts). When the
// living workers change, every worker is told where each route is served and kept (the plan), and
// whoever holds the newest copy of a route is asked to send it whole to whoever now needs it.

/** A worker as the coordinator sees it. */
export interface ReplicaMember {
  readonly route: string
  readonly exited: boolean
  /** Its replica socket, from its ready message. */
  readonly replicaPeer: ReplicaPeer | undefined
  /** Sends a message over the worker's IPC channel (errors are the exit's business). */
  post(message: object): void
  isConnected(): boolean
}

/** What `cluster.metrics().replication` shows. */
export interface ReplicationMetrics {
  readonly mode: 'off' | 'async' | 'sync'
  /** Changes the workers sent to be copied. */
  readonly sent: number
  /** Changes applied by the backup. */
  readonly acknowledged: number
  /**
   * Changes not copied because a queue was full or the backup died with them in flight; the
   * sessions they belong to are sent again whole once the backup keeps up.
   */
  readonly dropped: number
  /** Changes made while no other worker was alive to keep a copy. */
  readonly withoutBackup: number
  /** Writes whose response went out before the backup acknowledged them ('sync', after replicationTimeout). */
  readonly unacknowledged: number
  /** Age of the oldest change not yet acknowledged, over all workers, in ms: what a crash now could lose. */
  readonly lagMs: number
  /** Changes queued or in flight now. */
  readonly pending: number
  /** Whole-route copies sent to a new backup or a returning owner. */
  readonly snapshots: number
}

interface PendingSnapshot<W> {
  readonly source: W
  readonly done: () => void
}

type Counts = Pick<
  WorkerReplicationStats,
  'sent' | 'acknowledged' | 'withoutBackup' | 'dropped' | 'unacknowledged'
>

const COUNTS = ['sent', 'acknowledged', 'withoutBackup', 'dropped', 'unacknowledged'] as const

export class ReplicationCoordinator<W extends ReplicaMember> {
  readonly #mode: 'async' | 'sync'
  readonly #routes: readonly string[]
  readonly #virtualNodes: number
  readonly #recoveryTimeout: number
  readonly #members: () => Map<string, W>
  readonly #everyone: () => Iterable<W>
  #plan = new Map<string, Placement<W>>()
  #epoch = 0
  readonly #snapshots = new Map<number, PendingSnapshot<W>>()
  readonly #reported = new Map<W, WorkerReplicationStats>()
  /** What the workers that exited had reported. */
  readonly #past: { -readonly [K in keyof Counts]: number } = {
    sent: 0,
    acknowledged: 0,
    withoutBackup: 0,
    dropped: 0,
    unacknowledged: 0,
  }
  #nextTag = 0
  #snapshotCount = 0

  /**
   * `members` are the workers the router sends to, by route; `everyone` the ready workers, those
   * leaving included (they still send their last changes, and must know where).
   */
  constructor(
    options: {
      mode: 'async' | 'sync'
      routes: readonly string[]
      virtualNodes: number
      recoveryTimeout: number
    },
    members: () => Map<string, W>,
    everyone: () => Iterable<W>,
  ) {
    this.#mode = options.mode
    this.#routes = options.routes
    this.#virtualNodes = options.virtualNodes
    this.#recoveryTimeout = options.recoveryTimeout
    this.#members = members
    this.#everyone = everyone
  }

  /** Handles a replication message from worker `from`; false when it is not one. */
  onMessage(from: W, message: { tether: string }): boolean {
    if (message.tether !== 'replica-snapshot-done') return false
    for (const tag of (message as SnapshotDoneMessage).tags) {
      const pending = this.#snapshots.get(tag)
      if (pending?.source !== from) continue
      this.#snapshots.delete(tag)
      pending.done()
    }
    return true
  }

  onStats(from: W, stats: WorkerReplicationStats | undefined): void {
    if (stats !== undefined) this.#reported.set(from, stats)
  }

  /** The living workers changed: re-place every route and bring new holders and backups up to date. */
  update(): void {
    void this.#switchTo(this.#place(this.#members()))
  }

  /**
   * Before `joining` is routed to: moves the sessions it is about to serve (its own route's, which
   * another worker served while it was away) from their current holder, and resolves once they are
   * applied there, or after the recovery timeout.
   */
  async recover(joining: W): Promise<void> {
    const members = this.#members()
    members.set(joining.route, joining)
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#recoveryTimeout)
    })
    await Promise.race([this.#switchTo(this.#place(members)), timeout])
    clearTimeout(timer)
  }

  /**
   * A worker exited: its counts join the past ones, the snapshots it was sending end, and the
   * routes it had are placed again. (Batches on their way to it are lost to their senders, who see
   * its socket close and send those sessions again.)
   */
  forget(w: W): void {
    const stats = this.#reported.get(w)
    if (stats !== undefined) for (const count of COUNTS) this.#past[count] += stats[count]
    this.#reported.delete(w)
    // A worker killed could not remove its socket.
    if (w.replicaPeer !== undefined) removeReplicaSocket(w.replicaPeer.address)
    for (const [tag, pending] of this.#snapshots) {
      if (pending.source !== w) continue
      this.#snapshots.delete(tag)
      pending.done()
    }
    for (const placement of this.#plan.values()) {
      if (placement.holder === w || placement.target === w) {
        this.update()
        return
      }
    }
  }

  metrics(): ReplicationMetrics {
    const totals = { ...this.#past }
    let lagMs = 0
    let pending = 0
    for (const stats of this.#reported.values()) {
      for (const count of COUNTS) totals[count] += stats[count]
      lagMs = Math.max(lagMs, stats.lagMs)
      pending += stats.pending
    }
    return { mode: this.#mode, ...totals, lagMs, pending, snapshots: this.#snapshotCount }
  }

  #place(members: Map<string, W>): Map<string, Placement<W>> {
    return placeRoutes(this.#routes, members, this.#virtualNodes)
  }

  /**
   * Installs a new placement. A holder that changed while the old one still runs (a returning
   * owner, a reload) gets the route from it, and the returned promise waits for that; a backup
   * that changed gets the route from its holder.
   */
  #switchTo(next: Map<string, Placement<W>>): Promise<unknown> {
    const previous = this.#plan
    this.#plan = next
    this.#announce(next)
    const transfers: Promise<void>[] = []
    for (const [route, placement] of next) {
      const before = previous.get(route)
      const oldHolder = before?.holder
      const { holder, target } = placement
      if (oldHolder !== undefined && oldHolder !== holder && this.#alive(oldHolder)) {
        // The old holder has the newest data: to the new holder first, then to its new backup.
        const transfer = this.#snapshot(oldHolder, route)
        transfers.push(transfer)
        if (target !== undefined && target !== oldHolder && target !== before?.target)
          void transfer.then(() => this.#snapshot(holder, route))
      } else if (target !== undefined && (holder !== oldHolder || target !== before?.target)) {
        void this.#snapshot(holder, route)
      }
    }
    return Promise.all(transfers)
  }

  /**
   * Tells every ready worker where each route lives now. Snapshots asked for after this travel
   * behind it on each worker's channel, so they are sent where this plan says.
   */
  #announce(plan: Map<string, Placement<W>>): void {
    const peers: ReplicaPeer[] = []
    const index = new Map<W, number>()
    const indexOf = (w: W | undefined): number => {
      if (w?.replicaPeer === undefined) return -1
      let i = index.get(w)
      if (i === undefined) {
        i = peers.push(w.replicaPeer) - 1
        index.set(w, i)
      }
      return i
    }
    const routes: Array<readonly [string, number, number]> = []
    for (const [route, { holder, target }] of plan) routes.push([route, indexOf(holder), indexOf(target)])
    const message: ReplicaPlanMessage = { tether: 'replica-plan', epoch: ++this.#epoch, peers, routes }
    for (const w of this.#everyone()) if (this.#alive(w)) w.post(message)
  }

  /** Asks `source` to send every session of `route` on; resolves once applied (or `source` is gone). */
  #snapshot(source: W, route: string): Promise<void> {
    if (!this.#alive(source)) return Promise.resolve()
    const tag = ++this.#nextTag
    this.#snapshotCount++
    const message: SnapshotMessage = { tether: 'replica-snapshot', route, tag }
    return new Promise((resolve) => {
      this.#snapshots.set(tag, { source, done: resolve })
      source.post(message)
    })
  }

  #alive(w: W): boolean {
    return !w.exited && w.isConnected()
  }
}
