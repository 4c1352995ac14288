import type { ReplicaFeed, ReplicaOp, ReplicaSource, ReplicationHub } from '@tether/core/adapter'
import type {
  ApplyMessage,
  ReplicaEntry,
  ReplicaPlanMessage,
  ReplicateAckMessage,
  ReplicateMessage,
  SnapshotMessage,
  WorkerMessage,
  WorkerReplicationStats,
} from '../messages.js'
import { fromWire, merge, toWire } from './wire.js'

// The worker's side of session replication: the MemoryStores of the app attach here; their
// changes are batched once per turn of the event loop and sent to the primary, which passes each
// on to the backup of its route; changes from other workers are applied here. What is queued or in
// flight is bounded: past the bound changes are dropped, and the sessions they belong to are sent
// again whole once the backup keeps up, so a slow backup costs freshness, never memory.

/** Most changes queued (not yet sent) before new ones are dropped and remembered for a resend. */
const MAX_QUEUED = 10_000
/** Most changes per batch. */
const MAX_BATCH = 1_000
/** Most batches in flight (sent, not yet acknowledged). */
const MAX_IN_FLIGHT = 32
/** Pause before sessions whose changes were lost are sent again, so a stuck backup costs no busy loop. */
const RESEND_DELAY_MS = 1_000
/**
 * How long 'async' collects changes before it sends them: a few ms of possible loss buys batches
 * many times larger, which is what the primary's IPC work scales with. 'sync' sends every turn.
 */
const ASYNC_BATCH_MS = 10

/** A change waiting to be sent; later changes of its session before then are merged into it. */
interface Queued {
  readonly store: number
  change: ReplicaOp
}

type QueueItem = Queued | { readonly snapshotDone: number }

interface Batch {
  readonly seq: number
  readonly sentAt: number
  /** Store index, id and route of each change, to send the sessions again if the batch is lost. */
  readonly sessions: ReadonlyArray<readonly [number, string, string]>
  /** Writes waiting for this batch ('sync'). */
  readonly waiters: Array<() => void>
  timer: NodeJS.Timeout | undefined
}

export type Send = (message: WorkerMessage) => void

export class WorkerReplication implements ReplicationHub {
  readonly #sync: boolean
  readonly #timeout: number
  readonly #send: Send
  readonly #sources: ReplicaSource[] = []
  readonly #queue: QueueItem[] = []
  /** Time each queued change was made, for the lag figure (parallel to #queue). */
  readonly #queuedAt: number[] = []
  readonly #inFlight = new Map<number, Batch>()
  /** Writes waiting for the batch that will carry the newest change ('sync'). */
  #waiting: Array<() => void> = []
  /** Bounds the wait of writes whose batch cannot be sent yet (every slot in flight). */
  #waitingTimer: NodeJS.Timeout | undefined
  #waitingSince = 0
  /** Sessions to send again whole: store index -> id -> route. */
  readonly #resend = new Map<number, Map<string, string>>()
  #resendTimer: NodeJS.Timeout | undefined
  #flushScheduled = false
  /** The queued change of each session not sent yet, by store and id, to merge later ones into. */
  readonly #unsent = new Map<string, Queued>()
  /** Applied changes not yet reported to the primary (see #apply). */
  #applied: { refs: number[]; gaps: number[] } = { refs: [], gaps: [] }
  #lastDropped = false
  #seq = 0
  #keeps = new Set<string>()
  #holds = new Set<string>()
  #dropped = 0
  #unacknowledged = 0
  /** Called when the routes this worker serves change (the worker lets go of their connections). */
  onHoldsChanged: ((holds: ReadonlySet<string>) => void) | undefined

  constructor(mode: 'sync' | 'async', timeout: number, send: Send, ownRoute: string) {
    this.#sync = mode === 'sync'
    this.#timeout = timeout
    this.#send = send
    // Until the primary's first plan: this worker's own sessions are its to keep.
    this.#keeps.add(ownRoute)
    this.#holds.add(ownRoute)
  }

  attach(source: ReplicaSource): ReplicaFeed {
    const index = this.#sources.push(source) - 1
    return {
      waits: this.#sync,
      changed: (change) => this.#changed(index, change),
      settled: () => this.#settled(),
    }
  }

  /** Handles a replication message from the primary; false when it is not one. */
  onMessage(message: { tether: string }): boolean {
    switch (message.tether) {
      case 'replicate-ack':
        this.#acknowledged(message as ReplicateAckMessage)
        return true
      case 'replica-apply':
        this.#apply(message as ApplyMessage)
        return true
      case 'replica-plan':
        this.#plan(message as ReplicaPlanMessage)
        return true
      case 'replica-snapshot':
        this.#snapshot(message as SnapshotMessage)
        return true
      default:
        return false
    }
  }

  stats(): WorkerReplicationStats {
    // The oldest batch in flight was sent first (a Map keeps insertion order).
    const oldest = this.#inFlight.values().next().value?.sentAt ?? this.#queuedAt[0]
    let pending = this.#queue.length
    for (const batch of this.#inFlight.values()) pending += batch.sessions.length
    return {
      dropped: this.#dropped,
      unacknowledged: this.#unacknowledged,
      lagMs: oldest === undefined ? 0 : Date.now() - oldest,
      pending,
    }
  }

  /** Resolves once nothing is queued or in flight (before the worker exits), or after `timeout` ms. */
  whenIdle(timeout: number): Promise<void> {
    const deadline = Date.now() + timeout
    return new Promise((resolve) => {
      const check = () => {
        if ((this.#queue.length === 0 && this.#inFlight.size === 0) || Date.now() >= deadline) resolve()
        else setTimeout(check, 5)
      }
      this.#flush()
      check()
    })
  }

  #changed(store: number, change: ReplicaOp): void {
    const key = `${store} ${change.id}`
    const unsent = this.#unsent.get(key)
    if (unsent !== undefined) {
      // Its session has a change waiting already: one change says both, and takes no room.
      unsent.change = merge(unsent.change, change)
      this.#lastDropped = false
      return
    }
    if (this.#queue.length >= MAX_QUEUED) {
      this.#dropped++
      this.#lastDropped = true
      this.#remember(store, change.id, change.route)
      return
    }
    this.#lastDropped = false
    const item: Queued = { store, change }
    this.#unsent.set(key, item)
    this.#queue.push(item)
    this.#queuedAt.push(Date.now())
    this.#scheduleFlush()
  }

  #settled(): Promise<void> {
    if (this.#lastDropped) {
      this.#unacknowledged++
      return Promise.resolve()
    }
    if (this.#queue.length === 0) {
      // Sent already (or nothing to send): wait for the newest batch, the one with the latest change.
      let newest: Batch | undefined
      for (const batch of this.#inFlight.values()) newest = batch
      if (newest === undefined) return Promise.resolve()
      return new Promise((resolve) => {
        newest.waiters.push(resolve)
        this.#armTimeout(newest, this.#timeout)
      })
    }
    return new Promise((resolve) => {
      if (this.#waiting.push(resolve) > 1) return
      this.#waitingSince = Date.now()
      this.#waitingTimer = setTimeout(() => {
        this.#waitingTimer = undefined
        const waiting = this.#waiting
        this.#waiting = []
        this.#unacknowledged += waiting.length
        for (const release of waiting) release()
      }, this.#timeout)
      this.#waitingTimer.unref()
    })
  }

  /** Releases `batch`'s waiters after `ms` if it is not acknowledged by then, counting them. */
  #armTimeout(batch: Batch, ms: number): void {
    if (batch.timer !== undefined) return
    batch.timer = setTimeout(() => {
      this.#unacknowledged += batch.waiters.length
      this.#release(batch)
    }, ms)
    batch.timer.unref()
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return
    this.#flushScheduled = true
    const flush = () => {
      this.#flushScheduled = false
      this.#flush()
    }
    // 'sync': one batch per turn, shared by every request answered in it.
    if (this.#sync) setImmediate(flush)
    else setTimeout(flush, ASYNC_BATCH_MS).unref()
  }

  #flush(): void {
    while (this.#queue.length > 0 && this.#inFlight.size < MAX_IN_FLIGHT) {
      const items = this.#queue.splice(0, MAX_BATCH)
      this.#queuedAt.splice(0, items.length)
      const changes: ReplicaEntry[] = []
      const done: number[] = []
      for (const item of items) {
        if ('snapshotDone' in item) done.push(item.snapshotDone)
        else {
          const key = `${item.store} ${item.change.id}`
          if (this.#unsent.get(key) === item) this.#unsent.delete(key)
          changes.push(toWire(item.store, item.change))
        }
      }
      const seq = ++this.#seq
      // The writes waiting so far are for changes in this batch or earlier ones.
      const waiters = this.#queue.length === 0 ? this.#waiting : []
      if (this.#queue.length === 0 && waiters.length > 0) {
        this.#waiting = []
        clearTimeout(this.#waitingTimer)
        this.#waitingTimer = undefined
      }
      const batch: Batch = {
        seq,
        sentAt: Date.now(),
        sessions: changes.map((c) => [c[0], c[2], c[3]] as const),
        waiters,
        timer: undefined,
      }
      if (waiters.length > 0) {
        batch.timer = setTimeout(
          () => {
            this.#unacknowledged += batch.waiters.length
            this.#release(batch)
          },
          this.#timeout - (Date.now() - this.#waitingSince),
        )
        batch.timer.unref()
      }
      this.#inFlight.set(seq, batch)
      const message: ReplicateMessage =
        done.length > 0
          ? { tether: 'replicate', seq, changes, snapshotsDone: done }
          : { tether: 'replicate', seq, changes }
      this.#send(message)
    }
  }

  #release(batch: Batch): void {
    clearTimeout(batch.timer)
    batch.timer = undefined
    for (const resolve of batch.waiters.splice(0)) resolve()
  }

  #acknowledged(message: ReplicateAckMessage): void {
    for (const [seq, outcome] of message.acks) {
      const batch = this.#inFlight.get(seq)
      if (batch === undefined) continue
      this.#inFlight.delete(seq)
      if (outcome === 'lost') {
        for (const [store, id, route] of batch.sessions) this.#remember(store, id, route)
      }
      this.#release(batch)
    }
    this.#flush()
  }

  #remember(store: number, id: string, route: string): void {
    const ids = this.#resend.get(store)
    if (ids === undefined) this.#resend.set(store, new Map([[id, route]]))
    else ids.set(id, route)
    if (this.#resendTimer !== undefined) return
    this.#resendTimer = setTimeout(() => {
      this.#resendTimer = undefined
      this.#resendLost()
    }, RESEND_DELAY_MS)
    this.#resendTimer.unref()
  }

  /** Sends the sessions whose changes were lost again, whole, as far as the queue has room. */
  #resendLost(): void {
    for (const [store, ids] of this.#resend) {
      const source = this.#sources[store]
      for (const [id, route] of ids) {
        if (this.#queue.length >= MAX_QUEUED / 2) {
          this.#remember(store, id, route) // re-arms the timer; the rest waits for it
          return
        }
        ids.delete(id)
        if (source !== undefined && this.#keeps.has(route)) this.#changed(store, source.current(id, route))
      }
      this.#resend.delete(store)
    }
  }

  #apply(message: ApplyMessage): void {
    let gaps = 0
    for (const wire of message.changes) {
      const source = this.#sources[wire[0]]
      const change = fromWire(wire)
      // Copies of routes this worker no longer keeps would never be dropped: ignore them.
      if (source === undefined || !this.#keeps.has(change.route) || !source.apply(change)) gaps++
    }
    // Answered together with the others applied meanwhile: in this turn ('sync'), or within the
    // batching interval ('async', where nobody waits for the answer).
    if (this.#applied.refs.push(message.ref) === 1) {
      const answer = () => {
        const { refs, gaps } = this.#applied
        this.#applied = { refs: [], gaps: [] }
        this.#send({ tether: 'replica-applied', refs, gaps })
      }
      if (this.#sync) setImmediate(answer)
      else setTimeout(answer, ASYNC_BATCH_MS).unref()
    }
    this.#applied.gaps.push(gaps)
  }

  #plan(message: ReplicaPlanMessage): void {
    this.#keeps = new Set(message.keeps)
    const holds = new Set(message.holds)
    const changed = holds.size !== this.#holds.size || [...holds].some((r) => !this.#holds.has(r))
    this.#holds = holds
    for (const source of this.#sources) source.drop((route) => this.#keeps.has(route))
    if (changed) this.onHoldsChanged?.(holds)
  }

  #snapshot(message: SnapshotMessage): void {
    // Behind every change queued so far, so that nothing older lands on top of the snapshot.
    this.#sources.forEach((source, store) => {
      for (const record of source.snapshot(message.route)) {
        // Later changes go behind the whole record, not into a change queued before it.
        this.#unsent.delete(`${store} ${record.id}`)
        this.#queue.push({ store, change: record })
        this.#queuedAt.push(Date.now())
      }
    })
    this.#queue.push({ snapshotDone: message.tag })
    this.#queuedAt.push(Date.now())
    this.#scheduleFlush()
  }
}
