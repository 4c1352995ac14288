import cluster from 'node:cluster'
import { EventEmitter } from 'node:events'
import { ROUTE_ENV } from '@tether/core/adapter'
import { HashRing } from './hash-ring.js'
import { HeartbeatMonitor } from './heartbeat-monitor.js'
import {
  isTetherMessage,
  type MetricsRequestMessage,
  type ReadyMessage,
  SLOT_ENV,
  type StatsMessage,
} from './messages.js'
import { type SlotSnapshot, SupervisorCounters } from './metrics.js'
import { type ResolvedClusterOptions, routeOfSlot } from './options.js'
import { ReplicationCoordinator } from './replication/replication-coordinator.js'
import { Slot } from './slot.js'
import { UserSessionsRelay } from './user-sessions-relay.js'
import { type PoolWorker, WorkerProcess } from './worker-process.js'

export type { PoolWorker }

/** What the router needs from the supervisor. */
export interface WorkerPool {
  /** The ready worker of `route`, if any. */
  ready(route: string): PoolWorker | undefined
  /** True for the routes of this cluster's slots, alive or not. */
  owns(route: string): boolean
  /** Routes of the ready workers. */
  readonly ring: HashRing
  /** Number of slots, alive or not. */
  readonly slotCount: number
  /** The ready worker of slot `index`, if any. */
  readyAt(index: number): PoolWorker | undefined
  /** Counts a connection handed to the worker of `route`. */
  countRouted(route: string): void
}

/**
 * Keeps one worker per slot: forks them with their route in TETHER_ROUTE, replaces those that
 * exit (with exponential back-off, giving up on a slot that crash-loops), replaces them one at a
 * time on reload(), and drains them on close(). Emits 'crash-loop' (route), 'exit'
 * (route, code, signal) and 'metrics-request' (worker, ref): a worker asked for cluster metrics.
 */
export class Supervisor extends EventEmitter implements WorkerPool {
  readonly ring: HashRing
  readonly #options: ResolvedClusterOptions
  /** This supervisor's counters, read by Cluster.metrics(). */
  readonly counters = new SupervisorCounters()
  readonly #slots: Slot[] = []
  readonly #byRoute = new Map<string, Slot>()
  readonly #leaving = new Set<WorkerProcess>()
  /** Every worker process alive, whatever its state (starting ones included). */
  readonly #alive = new Set<WorkerProcess>()
  /** "Log out everywhere" across the workers' in-process stores. */
  readonly #userSessions = new UserSessionsRelay()
  readonly #heartbeats: HeartbeatMonitor<WorkerProcess>
  /** Copies sessions between workers (`replication`), undefined when it is off. */
  readonly replication: ReplicationCoordinator<WorkerProcess> | undefined
  #closing = false
  #warnedNoStore = false
  #reloading: Promise<void> | undefined
  /** The last slot replacement (reload() or a worker's own signal): the next waits for it. */
  #replacing: Promise<void> = Promise.resolve()

  constructor(options: ResolvedClusterOptions) {
    super()
    this.#options = options
    this.ring = new HashRing([], { virtualNodes: options.virtualNodes })
    this.#heartbeats = new HeartbeatMonitor(options.heartbeatTimeout, (w) => this.#onHung(w))
    for (let index = 0; index < options.workers; index++) {
      const slot = new Slot(index, routeOfSlot(index, options.nodeName))
      this.#slots.push(slot)
      this.#byRoute.set(slot.route, slot)
    }
    this.replication =
      options.replication === 'off'
        ? undefined
        : new ReplicationCoordinator(
            {
              mode: options.replication,
              routes: this.#slots.map((slot) => slot.route),
              virtualNodes: options.virtualNodes,
              recoveryTimeout: options.readyTimeout,
            },
            () => this.#members(),
            () => [...this.#alive].filter((w) => w.ready),
          )
  }

  /** The workers the router sends to, by route. */
  #members(): Map<string, WorkerProcess> {
    const members = new Map<string, WorkerProcess>()
    for (const slot of this.#slots) {
      const w = slot.current
      if (w?.ready === true && this.ring.has(slot.route)) members.set(slot.route, w)
    }
    return members
  }

  /** Starts every slot; rejects (after stopping the others) if a slot crash-loops before it is ready. */
  async start(): Promise<void> {
    const results = await Promise.allSettled(this.#slots.map((slot) => this.#startSlot(slot)))
    const failed = results.find((r) => r.status === 'rejected')
    if (failed !== undefined) {
      await this.close()
      throw (failed as PromiseRejectedResult).reason
    }
  }

  ready(route: string): PoolWorker | undefined {
    const current = this.#byRoute.get(route)?.current
    return current?.routable === true ? current : undefined
  }

  get slotCount(): number {
    return this.#slots.length
  }

  readyAt(index: number): PoolWorker | undefined {
    const current = this.#slots[index]?.current
    return current?.routable === true ? current : undefined
  }

  owns(route: string): boolean {
    return this.#byRoute.has(route)
  }

  /** Counts a connection handed to the worker of `route`. */
  countRouted(route: string): void {
    const slot = this.#byRoute.get(route)
    if (slot !== undefined) slot.routed++
  }

  slots(): SlotSnapshot[] {
    const requests = new Map<string, number>()
    const draining = new Map<string, number>()
    for (const w of this.#alive) requests.set(w.route, (requests.get(w.route) ?? 0) + w.requests)
    for (const w of this.#leaving) draining.set(w.route, (draining.get(w.route) ?? 0) + 1)
    return this.#slots.map((slot) =>
      slot.snapshot(this.#closing, requests.get(slot.route) ?? 0, draining.get(slot.route) ?? 0),
    )
  }

  /** Misroutes reported by every worker, past and present. */
  misroutes(): number {
    let total = 0
    for (const slot of this.#slots) total += slot.pastMisroutes + (slot.current?.misroutes ?? 0)
    for (const w of this.#leaving) total += w.misroutes
    return total
  }

  /**
   * Replaces the workers one slot at a time: the new worker starts, takes the slot once ready (new
   * connections go to it), and only then is the old one told to drain. A failed slot gets a new
   * chance. Rejects, leaving the old worker in place, if a replacement does not become ready.
   */
  reload(): Promise<void> {
    if (this.#closing) return Promise.reject(new Error('the cluster is closing'))
    this.#reloading ??= (async () => {
      try {
        for (const slot of this.#slots) {
          if (this.#closing) return
          await this.#replace(slot)
        }
      } finally {
        this.#reloading = undefined
      }
    })()
    return this.#reloading
  }

  /** Replaces the worker of `slot` (unless it is no longer `expected`), one slot at a time. */
  #replace(slot: Slot, expected?: WorkerProcess): Promise<void> {
    const replaced = this.#replacing.then(async () => {
      if (this.#closing || (expected !== undefined && slot.current !== expected)) return
      clearTimeout(slot.respawn)
      slot.respawn = undefined
      const fresh = this.#fork(slot)
      await fresh.whenReady(this.#options.readyTimeout)
      if (this.#closing) return // close() drains it with the others
      const old = slot.current
      slot.forgive()
      if (!(await this.#admit(slot, fresh))) {
        if (this.#closing) return
        throw new Error(`the new worker of ${slot.route} exited while its sessions were brought over`)
      }
      if (old !== undefined) await this.#drain(old)
    })
    this.#replacing = replaced.catch(() => undefined)
    return replaced
  }

  /** Drains every worker (killing those still busy after drainTimeout) and stops restarting. */
  async close(): Promise<void> {
    this.#closing = true
    for (const slot of this.#slots) {
      clearTimeout(slot.respawn)
      slot.respawn = undefined
    }
    this.#heartbeats.close()
    for (const route of [...this.ring.nodes()]) this.ring.remove(route)
    // Starting workers too (a reload or a respawn in progress): none may outlive the cluster.
    await Promise.all([...this.#alive].map((w) => this.#drain(w)))
  }

  async #startSlot(slot: Slot): Promise<void> {
    for (;;) {
      const fresh = this.#fork(slot)
      try {
        await fresh.whenReady(this.#options.readyTimeout)
        if (this.#closing || (await this.#admit(slot, fresh)) || this.#closing) return
        throw new Error('exited while its sessions were brought over')
      } catch (error) {
        if (this.#closing) return
        const delay = this.#recordCrash(slot)
        if (delay === undefined) {
          throw new Error(
            `worker ${slot.route} did not start: it exited ${this.#options.maxRestarts} times within ` +
              `${this.#options.restartWindow} ms (last: ${(error as Error).message})`,
          )
        }
        // Not unref'd: start-up is awaited, and nothing else may keep the process alive meanwhile.
        await new Promise((resolve) => setTimeout(resolve, delay))
      }
    }
  }

  #fork(slot: Slot): WorkerProcess {
    const worker = cluster.fork({ [ROUTE_ENV]: slot.route, [SLOT_ENV]: String(slot.index) })
    const w = new WorkerProcess(worker, slot.route)
    this.#alive.add(w)
    // A worker's IPC errors (EPIPE while it dies) must never take the primary down.
    worker.on('error', () => undefined)
    worker.on('message', (message: unknown) => {
      this.#heartbeats.heard(w)
      if (!isTetherMessage(message)) return
      if (this.replication?.onMessage(w, message) === true) return
      if (this.#userSessions.onMessage(w, message, this.#alive)) return
      if (message.tether === 'ready') {
        this.#noteReplicatedStores(message as ReadyMessage)
        w.replicaPeer = (message as ReadyMessage).replica
        w.ready = true
        // Told to drain while still building its app (before it listened for messages): again.
        if (w.leaving) worker.send({ tether: 'drain' }, undefined, {}, () => undefined)
        worker.emit('tether:ready')
      } else if (message.tether === 'leaving') {
        this.#onLeaving(w)
      } else if (message.tether === 'stats') {
        w.onStats(message as StatsMessage)
        this.replication?.onStats(w, (message as StatsMessage).replication)
      } else if (message.tether === 'metrics-request') {
        this.emit('metrics-request', w, (message as MetricsRequestMessage).ref)
      }
    })
    worker.once('exit', (code, signal) => this.#onExit(slot, w, code, signal))
    return w
  }

  /**
   * Puts a ready worker in its slot. With replication, the sessions it is about to serve come
   * first from whoever serves them now (a returning owner gets back what its backup kept).
   */
  async #admit(slot: Slot, w: WorkerProcess): Promise<boolean> {
    if (this.replication !== undefined) {
      await this.replication.recover(w)
      if (w.exited || this.#closing) return false
    }
    this.#install(slot, w)
    this.replication?.update()
    return true
  }

  #noteReplicatedStores(ready: ReadyMessage): void {
    if (this.replication === undefined || ready.replicatedStores !== 0 || this.#warnedNoStore) return
    this.#warnedNoStore = true
    process.emitWarning(
      "replication is on but the app's workers use no MemoryStore: sessions in RedisStore or HybridStore are shared already, and nothing is copied",
      { type: 'TetherWarning', code: 'TETHER_REPLICATION_NO_STORE' },
    )
  }

  #install(slot: Slot, w: WorkerProcess): void {
    if (slot.current !== undefined && slot.current !== w) {
      slot.pastMisroutes += slot.current.misroutes
      this.#leaving.add(slot.current)
    }
    slot.current = w
    this.ring.add(slot.route)
    this.#heartbeats.watch(w)
  }

  /**
   * A worker stopped answering (stopped, or stuck in synchronous code): its sessions go to the
   * ring's pick at once, hand-offs it has not acknowledged are routed again, and it is killed; its
   * exit refills the slot like a crash.
   */
  #onHung(w: WorkerProcess): void {
    const slot = this.#byRoute.get(w.route)
    if (slot?.current !== w || w.leaving || w.exited) return
    this.counters.hung++
    w.ready = false
    this.ring.remove(slot.route)
    this.replication?.update()
    w.abandonInFlight()
    this.emit('hung', slot.route, w.pid)
    w.worker.process.kill('SIGKILL')
  }

  /**
   * A worker told to go by a signal the primary did not send (an operator's `kill`) is replaced as
   * reload() replaces one: it serves its sessions until its successor has them, then drains.
   * Without a successor it drains anyway, taking no new connection, and its exit refills the slot
   * as a crash does.
   */
  #onLeaving(w: WorkerProcess): void {
    if (w.leaving || this.#closing) return // its 'drain' is sent or on its way
    const slot = this.#byRoute.get(w.route)
    if (slot?.current !== w) return void this.#drain(w) // a successor not installed yet
    this.#replace(slot, w).catch(() => {
      if (w.exited || w.leaving || this.#closing) return
      w.stopHandOffs()
      w.post({ tether: 'drain' })
    })
  }

  /** Asks `w` to finish its connections and exit; kills it after drainTimeout. */
  async #drain(w: WorkerProcess): Promise<void> {
    w.leave()
    this.#heartbeats.forget(w)
    if (w.exited) return
    this.#leaving.add(w)
    try {
      w.worker.send({ tether: 'drain' })
    } catch {
      // Channel already closed: the exit is on its way.
    }
    const timer = setTimeout(() => w.worker.process.kill('SIGKILL'), this.#options.drainTimeout)
    timer.unref()
    await w.exit
    clearTimeout(timer)
  }

  #onExit(slot: Slot, w: WorkerProcess, code: number | null, signal: string | null): void {
    w.exited = true
    w.ready = false
    this.#heartbeats.forget(w)
    this.#leaving.delete(w)
    this.#alive.delete(w)
    this.replication?.forget(w)
    this.#userSessions.forget(w)
    slot.pastRequests += w.requests
    // Hand-offs it never received went back to the router on 'disconnect', which comes after the
    // last message of the channel was read (unlike 'exit', which can overtake an ACK).
    // The fourth argument says whether the exit was asked for (reload, close, a replaced worker).
    this.emit('exit', slot.route, code, signal, w.leaving || this.#closing)
    if (slot.current !== w) return // a worker still starting (its starter retries) or leaving
    slot.pastMisroutes += w.misroutes
    slot.current = undefined
    this.ring.remove(slot.route)
    this.replication?.update()
    if (!this.#closing && !w.leaving) this.#scheduleRespawn(slot)
  }

  /** Refills an empty slot after the back-off delay, again and again until it works or crash-loops. */
  #scheduleRespawn(slot: Slot): void {
    const delay = this.#recordCrash(slot)
    if (delay === undefined) return
    slot.respawn = setTimeout(() => {
      slot.respawn = undefined
      if (this.#closing || slot.current !== undefined) return
      this.counters.restarts++
      slot.restarts++
      const fresh = this.#fork(slot)
      fresh.whenReady(this.#options.readyTimeout).then(
        () => {
          if (this.#closing || slot.current !== undefined) return void this.#drain(fresh)
          return this.#admit(slot, fresh).then((installed) => {
            if (!installed && !this.#closing && slot.current === undefined) this.#scheduleRespawn(slot)
          })
        },
        () => {
          if (!this.#closing && slot.current === undefined && slot.respawn === undefined)
            this.#scheduleRespawn(slot)
        },
      )
    }, delay)
    slot.respawn.unref()
  }

  /** Records an unexpected exit; returns the back-off delay, or undefined when the slot crash-loops. */
  #recordCrash(slot: Slot): number | undefined {
    const delay = slot.recordCrash(this.#options)
    if (delay === undefined) {
      this.counters.crashLoops++
      this.emit('crash-loop', slot.route)
    }
    return delay
  }
}
