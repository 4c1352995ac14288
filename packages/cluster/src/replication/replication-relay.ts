import type {
  AppliedMessage,
  ApplyMessage,
  BatchOutcome,
  ReplicaEntry,
  ReplicaPlanMessage,
  ReplicateAckMessage,
  ReplicateMessage,
  SnapshotMessage,
  WorkerReplicationStats,
} from '../messages.js'
import { type Placement, placeRoutes } from './replication-plan.js'
import { routeOf } from './wire.js'

// The primary's side of session replication. Workers send their changes here; each change goes on
// to the worker that needs it: the route's holder if it came from anyone else (an old owner
// draining, or the previous holder while a returning owner recovers), else the route's backup.
// When the living workers change, every worker is told which routes it serves and keeps, and
// whoever holds the newest copy of a route sends it whole to whoever now needs it.

/** A worker as the relay sees it. */
export interface RelayWorker {
  readonly route: string
  readonly exited: boolean
  /** Sends a message over the worker's IPC channel (errors are the exit's business). */
  post(message: object): void
  isConnected(): boolean
}

/** Most changes forwarded to one worker and not yet applied; past it a batch is lost (and resent later). */
const MAX_OUTSTANDING = 20_000

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

interface RelayedBatch<W> {
  readonly from: W
  readonly seq: number
  parts: number
  lost: boolean
  readonly reachedBackup: boolean
  readonly snapshotsDone: readonly number[] | undefined
}

interface Part<W> {
  readonly batch: RelayedBatch<W>
  readonly dest: W
  readonly count: number
}

interface PendingSnapshot<W> {
  readonly source: W
  readonly done: () => void
}

const NO_STATS: WorkerReplicationStats = { dropped: 0, unacknowledged: 0, lagMs: 0, pending: 0 }

export class ReplicationRelay<W extends RelayWorker> {
  readonly #mode: 'async' | 'sync'
  readonly #routes: readonly string[]
  readonly #virtualNodes: number
  readonly #recoveryTimeout: number
  readonly #members: () => Map<string, W>
  #plan = new Map<string, Placement<W>>()
  readonly #parts = new Map<number, Part<W>>()
  readonly #outstanding = new Map<W, number>()
  readonly #snapshots = new Map<number, PendingSnapshot<W>>()
  readonly #reported = new Map<W, WorkerReplicationStats>()
  /** Acknowledgements waiting for the end of this turn, by worker. */
  readonly #acks = new Map<W, Array<[number, BatchOutcome]>>()
  #pastDropped = 0
  #pastUnacknowledged = 0
  #nextRef = 0
  #nextTag = 0
  #sent = 0
  #acknowledged = 0
  #dropped = 0
  #withoutBackup = 0
  #snapshotCount = 0

  constructor(
    options: {
      mode: 'async' | 'sync'
      routes: readonly string[]
      virtualNodes: number
      recoveryTimeout: number
    },
    members: () => Map<string, W>,
  ) {
    this.#mode = options.mode
    this.#routes = options.routes
    this.#virtualNodes = options.virtualNodes
    this.#recoveryTimeout = options.recoveryTimeout
    this.#members = members
  }

  /** Handles a replication message from worker `from`; false when it is not one. */
  onMessage(from: W, message: { tether: string }): boolean {
    if (message.tether === 'replicate') this.#relay(from, message as ReplicateMessage)
    else if (message.tether === 'replica-applied') this.#applied(from, message as AppliedMessage)
    else return false
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

  /** A worker exited: what was on its way to it is lost, and the routes it had are placed again. */
  forget(w: W): void {
    const stats = this.#reported.get(w) ?? NO_STATS
    this.#pastDropped += stats.dropped
    this.#pastUnacknowledged += stats.unacknowledged
    this.#reported.delete(w)
    for (const [ref, part] of this.#parts) {
      if (part.dest !== w) continue
      this.#parts.delete(ref)
      this.#dropped += part.count
      part.batch.lost = true
      if (--part.batch.parts === 0) this.#finish(part.batch)
    }
    this.#outstanding.delete(w)
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
    let dropped = this.#dropped + this.#pastDropped
    let unacknowledged = this.#pastUnacknowledged
    let lagMs = 0
    let pending = 0
    for (const stats of this.#reported.values()) {
      dropped += stats.dropped
      unacknowledged += stats.unacknowledged
      lagMs = Math.max(lagMs, stats.lagMs)
      pending += stats.pending
    }
    return {
      mode: this.#mode,
      sent: this.#sent,
      acknowledged: this.#acknowledged,
      dropped,
      withoutBackup: this.#withoutBackup,
      unacknowledged,
      lagMs,
      pending,
      snapshots: this.#snapshotCount,
    }
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

  /** Tells every placed worker which routes it serves and keeps (the others it drops). */
  #announce(plan: Map<string, Placement<W>>): void {
    const roles = new Map<W, { holds: string[]; keeps: string[] }>()
    const role = (w: W) => {
      let r = roles.get(w)
      if (r === undefined) {
        r = { holds: [], keeps: [] }
        roles.set(w, r)
      }
      return r
    }
    for (const [route, { holder, target }] of plan) {
      role(holder).holds.push(route)
      role(holder).keeps.push(route)
      if (target !== undefined) role(target).keeps.push(route)
    }
    for (const [w, { holds, keeps }] of roles) {
      const message: ReplicaPlanMessage = { tether: 'replica-plan', holds, keeps }
      if (this.#alive(w)) w.post(message)
    }
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

  #relay(from: W, message: ReplicateMessage): void {
    this.#sent += message.changes.length
    const groups = new Map<W, ReplicaEntry[]>()
    for (const entry of message.changes) {
      const placement = this.#plan.get(routeOf(entry))
      const dest =
        placement === undefined ? undefined : from !== placement.holder ? placement.holder : placement.target
      if (dest === undefined || dest === from) {
        this.#withoutBackup++
        continue
      }
      const group = groups.get(dest)
      if (group === undefined) groups.set(dest, [entry])
      else group.push(entry)
    }
    const batch: RelayedBatch<W> = {
      from,
      seq: message.seq,
      parts: 0,
      lost: false,
      reachedBackup: groups.size > 0 || message.changes.length === 0,
      snapshotsDone: message.snapshotsDone,
    }
    for (const [dest, changes] of groups) {
      const outstanding = this.#outstanding.get(dest) ?? 0
      if (!this.#alive(dest) || outstanding + changes.length > MAX_OUTSTANDING) {
        this.#dropped += changes.length
        batch.lost = true
        continue
      }
      const ref = ++this.#nextRef
      this.#parts.set(ref, { batch, dest, count: changes.length })
      this.#outstanding.set(dest, outstanding + changes.length)
      batch.parts++
      const apply: ApplyMessage = { tether: 'replica-apply', ref, changes }
      dest.post(apply)
    }
    if (batch.parts === 0) this.#finish(batch)
  }

  #applied(from: W, message: AppliedMessage): void {
    message.refs.forEach((ref, i) => {
      const part = this.#parts.get(ref)
      if (part === undefined || part.dest !== from) return
      this.#parts.delete(ref)
      this.#outstanding.set(from, (this.#outstanding.get(from) ?? part.count) - part.count)
      this.#acknowledged += part.count - (message.gaps[i] ?? 0)
      if (--part.batch.parts === 0) this.#finish(part.batch)
    })
  }

  #finish(batch: RelayedBatch<W>): void {
    const outcome: BatchOutcome = batch.lost ? 'lost' : batch.reachedBackup ? 'applied' : 'no-backup'
    // Acknowledgements to one worker that end in the same turn travel together.
    const acks = this.#acks.get(batch.from)
    if (acks !== undefined) acks.push([batch.seq, outcome])
    else {
      this.#acks.set(batch.from, [[batch.seq, outcome]])
      if (this.#acks.size === 1) setImmediate(() => this.#sendAcks())
    }
    for (const tag of batch.snapshotsDone ?? []) {
      const pending = this.#snapshots.get(tag)
      this.#snapshots.delete(tag)
      pending?.done()
    }
  }

  #sendAcks(): void {
    for (const [w, acks] of this.#acks) {
      const message: ReplicateAckMessage = { tether: 'replicate-ack', acks }
      if (this.#alive(w)) w.post(message)
    }
    this.#acks.clear()
  }

  #alive(w: W): boolean {
    return !w.exited && w.isConnected()
  }
}
