import type { ReplicaFeed, ReplicaOp, ReplicaSource, ReplicationHub } from '@tether/core/adapter'
import type {
  ReplicaPlanMessage,
  SnapshotMessage,
  WorkerMessage,
  WorkerReplicationStats,
} from '../messages.js'
import { type Batch, InFlight } from './in-flight.js'
import { PeerLink, type ReplicaPeer } from './peer-link.js'
import { ReplicaReceiver } from './replica-receiver.js'
import { merge, toWire, type WireChange } from './wire.js'

// The worker's side of session replication: the MemoryStores of the app attach here; their
// changes are batched (every turn of the event loop in 'sync', every few ms in 'async') and sent
// straight to the worker that keeps the copies of their route, over that worker's replica socket;
// the primary only tells each worker where every route lives (the plan) and when to send a whole
// route (a snapshot). What is queued or in flight is bounded: past the bound changes are dropped,
// and the sessions they belong to are sent again whole later, as are those of batches lost with a
// backup's connection, so a slow or dead backup costs freshness, never memory.

/** Most changes queued (not yet sent) before new ones are dropped and remembered for a resend. */
const MAX_QUEUED = 10_000
/** Most changes per batch. */
const MAX_BATCH = 1_000
/** Most batches in flight (sent, not yet answered by every backup they went to). */
const MAX_IN_FLIGHT = 32
/** Most changes sent to one backup and not yet answered; past it a batch is lost (and resent later). */
const MAX_OUTSTANDING = 20_000
/** Pause before sessions whose changes were lost are sent again, so a stuck backup costs no busy loop. */
const RESEND_DELAY_MS = 1_000
/**
 * How long 'async' collects changes before it sends them: a few ms of possible loss buys batches
 * many times larger. 'sync' sends every turn.
 */
const ASYNC_BATCH_MS = 10

/** A change waiting to be sent; later changes of its session before then are merged into it. */
interface Queued {
  readonly store: number
  change: ReplicaOp
}

type QueueItem = Queued | { readonly snapshotDone: number }

/** The share of a batch that went to one backup. */
interface Part {
  readonly batch: Batch
  readonly count: number
  /** Store index, id and route of each change, to send the sessions again if the part is lost. */
  readonly sessions: Array<readonly [number, string, string]>
}

export type Send = (message: WorkerMessage) => void

export interface WorkerReplicationOptions {
  readonly mode: 'sync' | 'async'
  /** replicationTimeout: how long a 'sync' write waits for its backup at most. */
  readonly timeout: number
  /** Messages to the primary. */
  readonly send: Send
  /** This worker's route: its own sessions are its to keep until the first plan says otherwise. */
  readonly route: string
}

export class WorkerReplication implements ReplicationHub {
  readonly #sync: boolean
  readonly #send: Send
  readonly #sources: ReplicaSource[] = []
  readonly #queue: QueueItem[] = []
  /** Time each queued change was made, for the lag figure (parallel to #queue). */
  readonly #queuedAt: number[] = []
  readonly #inFlight: InFlight
  readonly #receiver: ReplicaReceiver
  /** This worker's own replica socket, once listening. */
  #self: string | undefined
  #epoch = 0
  /** Where this worker sends the changes of each route (undefined: nowhere, no backup). */
  #destinations = new Map<string, ReplicaPeer | undefined>()
  /** Connections to the other workers' replica sockets, by address (made when first needed). */
  readonly #links = new Map<string, PeerLink<Part>>()
  /** Sessions to send again whole: store index -> id -> route. */
  readonly #resend = new Map<number, Map<string, string>>()
  #resendTimer: NodeJS.Timeout | undefined
  #flushScheduled = false
  /** The queued change of each session not sent yet, by store index then id, to merge later ones into. */
  readonly #unsent: Array<Map<string, Queued>> = []
  #lastDropped = false
  #keeps = new Set<string>()
  #holds = new Set<string>()
  #sent = 0
  #acknowledged = 0
  #withoutBackup = 0
  #dropped = 0
  #unacknowledged = 0
  /** Called when the routes this worker serves change (the worker lets go of their connections). */
  onHoldsChanged: ((holds: ReadonlySet<string>) => void) | undefined

  constructor(options: WorkerReplicationOptions) {
    this.#sync = options.mode === 'sync'
    this.#send = options.send
    this.#inFlight = new InFlight(options.timeout, (batch) => {
      if (batch.snapshotsDone.length > 0)
        this.#send({ tether: 'replica-snapshot-done', tags: batch.snapshotsDone })
    })
    this.#receiver = new ReplicaReceiver(this.#sources, () => this.#keeps, this.#sync)
    this.#keeps.add(options.route)
    this.#holds.add(options.route)
  }

  /** Opens this worker's replica socket (before the app is built); what the primary tells the others. */
  async listen(): Promise<ReplicaPeer> {
    const peer = await this.#receiver.listen()
    this.#self = peer.address
    return peer
  }

  attach(source: ReplicaSource): ReplicaFeed {
    const index = this.#sources.push(source) - 1
    this.#unsent.push(new Map())
    return {
      waits: this.#sync,
      changed: (change) => this.#changed(index, change),
      settled: () => this.#settled(),
    }
  }

  /** Handles a replication message from the primary; false when it is not one. */
  onMessage(message: { tether: string }): boolean {
    if (message.tether === 'replica-plan') this.#plan(message as ReplicaPlanMessage)
    else if (message.tether === 'replica-snapshot') this.#snapshot(message as SnapshotMessage)
    else return false
    return true
  }

  stats(): WorkerReplicationStats {
    const oldest = this.#inFlight.oldestSentAt ?? this.#queuedAt[0]
    return {
      sent: this.#sent,
      acknowledged: this.#acknowledged,
      withoutBackup: this.#withoutBackup,
      dropped: this.#dropped,
      unacknowledged: this.#unacknowledged + this.#inFlight.timedOut,
      lagMs: oldest === undefined ? 0 : Date.now() - oldest,
      pending: this.#queue.length + this.#inFlight.unanswered,
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

  /** Stops taking copies and closes the connections to the others (tests; a worker just exits). */
  close(): void {
    this.#receiver.close()
    for (const link of this.#links.values()) link.close()
    clearTimeout(this.#resendTimer)
  }

  #changed(store: number, change: ReplicaOp): void {
    const unsentOfStore = this.#unsent[store]!
    const unsent = unsentOfStore.get(change.id)
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
    unsentOfStore.set(change.id, item)
    this.#queue.push(item)
    this.#queuedAt.push(Date.now())
    this.#scheduleFlush()
  }

  #settled(): Promise<void> {
    if (this.#lastDropped) {
      this.#unacknowledged++
      return Promise.resolve()
    }
    return this.#inFlight.wait(this.#queue.length > 0)
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
      const done: number[] = []
      const groups = new Map<ReplicaPeer, { changes: WireChange[]; sessions: Part['sessions'] }>()
      let count = 0
      for (const item of items) {
        if ('snapshotDone' in item) {
          done.push(item.snapshotDone)
          continue
        }
        count++
        const unsentOfStore = this.#unsent[item.store]!
        if (unsentOfStore.get(item.change.id) === item) unsentOfStore.delete(item.change.id)
        const peer = this.#destinations.get(item.change.route)
        if (peer === undefined) {
          this.#withoutBackup++
          continue
        }
        let group = groups.get(peer)
        if (group === undefined) {
          group = { changes: [], sessions: [] }
          groups.set(peer, group)
        }
        group.changes.push(toWire(item.store, item.change))
        group.sessions.push([item.store, item.change.id, item.change.route])
      }
      this.#sent += count
      const batch = this.#inFlight.start(done, this.#queue.length === 0)
      for (const [peer, { changes, sessions }] of groups) {
        const part: Part = { batch, count: changes.length, sessions }
        this.#inFlight.addPart(batch, part.count)
        const link = this.#link(peer)
        if (link.outstanding + part.count > MAX_OUTSTANDING || !link.send(this.#epoch, changes, part))
          this.#lost(part)
      }
      this.#inFlight.seal(batch)
    }
  }

  #link(peer: ReplicaPeer): PeerLink<Part> {
    const existing = this.#links.get(peer.address)
    if (existing !== undefined && !existing.closed && existing.peer.key === peer.key) return existing
    const link: PeerLink<Part> = new PeerLink<Part>(peer, {
      answered: (part, gaps) => {
        this.#acknowledged += part.count - gaps
        this.#inFlight.answered(part.batch, part.count)
        this.#flush()
      },
      lost: (parts) => {
        if (this.#links.get(peer.address) === link) this.#links.delete(peer.address)
        for (const part of parts) this.#lost(part)
        this.#flush()
      },
    })
    this.#links.set(peer.address, link)
    return link
  }

  /** A part that never reached its backup, or whose backup is gone: its sessions go again, whole. */
  #lost(part: Part): void {
    this.#dropped += part.count
    for (const [store, id, route] of part.sessions) this.#remember(store, id, route)
    this.#inFlight.answered(part.batch, part.count)
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

  #plan(message: ReplicaPlanMessage): void {
    const self = message.peers.findIndex((peer) => peer.address === this.#self)
    const destinations = new Map<string, ReplicaPeer | undefined>()
    const holds = new Set<string>()
    const keeps = new Set<string>()
    for (const [route, holder, backup] of message.routes) {
      const dest = holder !== self ? holder : backup
      destinations.set(route, dest === -1 || dest === self ? undefined : message.peers[dest])
      if (holder === self) holds.add(route)
      if (holder === self || backup === self) keeps.add(route)
    }
    this.#epoch = message.epoch
    this.#destinations = destinations
    // A worker the plan does not place (one that is leaving) keeps what it has until it goes.
    if (self !== -1) {
      const changed = holds.size !== this.#holds.size || [...holds].some((r) => !this.#holds.has(r))
      this.#keeps = keeps
      this.#holds = holds
      for (const source of this.#sources) source.drop((route) => keeps.has(route))
      if (changed) this.onHoldsChanged?.(holds)
    }
    this.#receiver.planned(message.epoch)
  }

  #snapshot(message: SnapshotMessage): void {
    // Behind every change queued so far, so that nothing older lands on top of the snapshot.
    this.#sources.forEach((source, store) => {
      for (const record of source.snapshot(message.route)) {
        // Later changes go behind the whole record, not into a change queued before it.
        this.#unsent[store]!.delete(record.id)
        this.#queue.push({ store, change: record })
        this.#queuedAt.push(Date.now())
      }
    })
    this.#queue.push({ snapshotDone: message.tag })
    this.#queuedAt.push(Date.now())
    this.#scheduleFlush()
  }
}
