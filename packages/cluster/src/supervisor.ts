import cluster, { type Worker } from 'node:cluster'
import { EventEmitter } from 'node:events'
import { ROUTE_ENV } from '@tether/core/adapter'
import type { Connection } from './connection.js'
import { HashRing } from './hash-ring.js'
import { HeartbeatMonitor } from './heartbeat-monitor.js'
import { type ConnectionMessage, isTetherMessage, SLOT_ENV, type StatsMessage } from './messages.js'
import type { ClusterMetrics, SlotSnapshot } from './metrics.js'
import { type ResolvedClusterOptions, routeOfSlot } from './options.js'

/** A worker process as the router sees it. */
export interface PoolWorker {
  readonly route: string
  readonly pid: number | undefined
  /** Open connections (reported plus handed over since the last report). */
  readonly connections: number
  /**
   * Hands over `connection`. `done(false)` means it was not delivered but is still intact in this
   * process (route it elsewhere); `done(true)` that it was delivered or is gone for good.
   */
  handOff(message: ConnectionMessage, connection: Connection, done: (delivered: boolean) => void): void
}

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
}

interface Handed {
  readonly message: ConnectionMessage
  readonly connection: Connection
  readonly done: (delivered: boolean) => void
}

/** One worker process and what the primary knows about it. */
class WorkerProcess implements PoolWorker {
  readonly worker: Worker
  readonly route: string
  ready = false
  /** Set when the primary asked it to go (drain, close): its exit is not a crash. */
  leaving = false
  exited = false
  reported = 0
  handedSinceReport = 0
  misroutes = 0
  /**
   * Hand-offs waiting for the one in flight to be acknowledged. Node's channel carries one handle
   * at a time and would queue the rest itself, but it walks its whole queue again on every ACK.
   */
  readonly #waiting: Handed[] = []
  /** The hand-off written to the channel and not yet acknowledged. */
  #inFlight: Handed | undefined
  readonly exit: Promise<void>

  constructor(worker: Worker, route: string) {
    this.worker = worker
    this.route = route
    this.exit = new Promise((resolve) => worker.once('exit', () => resolve()))
    // Node's child_process acknowledges every handle it receives (NODE_HANDLE_ACK), before any
    // user code of the worker can touch the socket. Until then the connection is still ours.
    worker.process.on('internalMessage', (message: { cmd?: string } | null) => {
      if (message?.cmd === 'NODE_HANDLE_ACK') this.#acknowledged(true)
      else if (message?.cmd === 'NODE_HANDLE_NACK') this.#acknowledged(false)
    })
    // Once the channel is closed, every message before its end has been read, ACKs included:
    // whatever is still unacknowledged never reached the worker's code and can safely go to
    // another worker. 'disconnect' says so, except that Node withholds it while a handle awaits
    // its ACK; 'close' (the process exited and the channel ended) covers that case. 'exit' alone
    // could overtake an ACK still in the pipe.
    const gone = () => {
      this.ready = false
      this.abandonInFlight()
    }
    worker.process.once('disconnect', gone)
    worker.process.once('close', gone)
  }

  get pid(): number | undefined {
    return this.worker.process.pid
  }

  get connections(): number {
    return this.reported + this.handedSinceReport
  }

  handOff(message: ConnectionMessage, connection: Connection, done: (delivered: boolean) => void): void {
    if (connection.closed) {
      done(true) // closed meanwhile: nothing left to deliver
      return
    }
    if (this.exited || !this.worker.isConnected()) {
      done(false)
      return
    }
    this.handedSinceReport++
    this.#waiting.push({ message, connection, done })
    this.#sendNext()
  }

  /**
   * Writes the next waiting hand-off, once the previous one was acknowledged. The bare TCP handle
   * goes, as with node:cluster's own round-robin; this process keeps its descriptor until the
   * worker acknowledges, so a failed hand-off can go elsewhere.
   */
  #sendNext(): void {
    while (this.#inFlight === undefined && this.#waiting.length > 0) {
      const entry = this.#waiting.shift()!
      if (entry.connection.closed) {
        entry.done(true)
        continue
      }
      this.#inFlight = entry
      try {
        this.worker.send(entry.message, entry.connection.handle as never, (error) => {
          if (error === null || error === undefined || this.#inFlight !== entry) return
          this.#inFlight = undefined // not sent: the connection is intact here and can go elsewhere
          entry.done(false)
          this.#sendNext()
        })
      } catch {
        this.#inFlight = undefined
        entry.done(false)
      }
    }
  }

  #acknowledged(received: boolean): void {
    const entry = this.#inFlight
    if (entry === undefined) return
    this.#inFlight = undefined
    if (received) entry.connection.release()
    entry.done(received)
    this.#sendNext()
  }

  /** The worker is gone: hand-offs it never received come back to be routed again. */
  abandonInFlight(): void {
    const entries = this.#inFlight === undefined ? [...this.#waiting] : [this.#inFlight, ...this.#waiting]
    this.#inFlight = undefined
    this.#waiting.length = 0
    for (const entry of entries) entry.done(false)
  }

  onStats(stats: StatsMessage): void {
    this.reported = stats.connections
    this.handedSinceReport = 0
    this.misroutes = stats.misroutes
  }
}

interface Slot {
  readonly index: number
  readonly route: string
  current: WorkerProcess | undefined
  /** Exit times of unexpected exits within the restart window. */
  crashes: number[]
  restarts: number
  routed: number
  failed: boolean
  respawn: NodeJS.Timeout | undefined
  /** Misroutes counted by this slot's previous workers. */
  pastMisroutes: number
}

/**
 * Keeps one worker per slot: forks them with their route in TETHER_ROUTE, replaces those that
 * exit (with exponential back-off, giving up on a slot that crash-loops), replaces them one at a
 * time on reload(), and drains them on close(). Emits 'crash-loop' (route) and 'exit'
 * (route, code, signal).
 */
export class Supervisor extends EventEmitter implements WorkerPool {
  readonly ring: HashRing
  readonly #options: ResolvedClusterOptions
  readonly #metrics: ClusterMetrics
  readonly #slots: Slot[] = []
  readonly #byRoute = new Map<string, Slot>()
  readonly #leaving = new Set<WorkerProcess>()
  /** Every worker process alive, whatever its state (starting ones included). */
  readonly #alive = new Set<WorkerProcess>()
  readonly #heartbeats: HeartbeatMonitor<WorkerProcess>
  #closing = false
  #reloading: Promise<void> | undefined

  constructor(options: ResolvedClusterOptions, metrics: ClusterMetrics) {
    super()
    this.#options = options
    this.#metrics = metrics
    this.ring = new HashRing([], { virtualNodes: options.virtualNodes })
    this.#heartbeats = new HeartbeatMonitor(options.heartbeatTimeout, (w) => this.#onHung(w))
    for (let index = 0; index < options.workers; index++) {
      const slot: Slot = {
        index,
        route: routeOfSlot(index, options.nodeName),
        current: undefined,
        crashes: [],
        restarts: 0,
        routed: 0,
        failed: false,
        respawn: undefined,
        pastMisroutes: 0,
      }
      this.#slots.push(slot)
      this.#byRoute.set(slot.route, slot)
    }
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
    return current?.ready === true ? current : undefined
  }

  get slotCount(): number {
    return this.#slots.length
  }

  readyAt(index: number): PoolWorker | undefined {
    const current = this.#slots[index]?.current
    return current?.ready === true ? current : undefined
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
    return this.#slots.map((slot) => ({
      route: slot.route,
      pid: slot.current?.pid,
      state: this.#closing
        ? 'stopped'
        : slot.failed
          ? 'failed'
          : slot.current === undefined
            ? 'restarting'
            : slot.current.ready
              ? 'ready'
              : 'starting',
      connections: slot.current?.connections ?? 0,
      routed: slot.routed,
      restarts: slot.restarts,
    }))
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
          clearTimeout(slot.respawn)
          slot.respawn = undefined
          const fresh = this.#fork(slot)
          await this.#whenReady(fresh)
          if (this.#closing) return // close() drains it with the others
          const old = slot.current
          slot.failed = false
          slot.crashes = []
          this.#install(slot, fresh)
          if (old !== undefined) await this.#drain(old)
        }
      } finally {
        this.#reloading = undefined
      }
    })()
    return this.#reloading
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
        await this.#whenReady(fresh)
        if (!this.#closing) this.#install(slot, fresh)
        return
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
      if (message.tether === 'ready') {
        w.ready = true
        // Told to drain while still building its app (before it listened for messages): again.
        if (w.leaving) worker.send({ tether: 'drain' }, undefined, {}, () => undefined)
        worker.emit('tether:ready')
      } else if (message.tether === 'stats') w.onStats(message as StatsMessage)
    })
    worker.once('exit', (code, signal) => this.#onExit(slot, w, code, signal))
    return w
  }

  /** Resolves when `w` reports ready; rejects if it exits first or takes longer than readyTimeout. */
  #whenReady(w: WorkerProcess): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup()
        w.leaving = true
        w.worker.process.kill('SIGKILL')
        reject(new Error(`not ready within readyTimeout (${this.#options.readyTimeout} ms)`))
      }, this.#options.readyTimeout)
      timer.unref()
      const onReady = () => {
        cleanup()
        resolve()
      }
      const onExit = (code: number | null, signal: string | null) => {
        cleanup()
        reject(new Error(`exited with ${signal ?? `code ${code}`} before it was ready`))
      }
      const cleanup = () => {
        clearTimeout(timer)
        w.worker.off('tether:ready', onReady)
        w.worker.off('exit', onExit)
      }
      if (w.ready) return onReady()
      w.worker.on('tether:ready', onReady)
      w.worker.on('exit', onExit)
    })
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
    this.#metrics.hung++
    w.ready = false
    this.ring.remove(slot.route)
    w.abandonInFlight()
    this.emit('hung', slot.route, w.pid)
    w.worker.process.kill('SIGKILL')
  }

  /** Asks `w` to finish its connections and exit; kills it after drainTimeout. */
  async #drain(w: WorkerProcess): Promise<void> {
    w.leaving = true
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
    // Hand-offs it never received went back to the router on 'disconnect', which comes after the
    // last message of the channel was read (unlike 'exit', which can overtake an ACK).
    // The fourth argument says whether the exit was asked for (reload, close, a replaced worker).
    this.emit('exit', slot.route, code, signal, w.leaving || this.#closing)
    if (slot.current !== w) return // a worker still starting (its starter retries) or leaving
    slot.pastMisroutes += w.misroutes
    slot.current = undefined
    this.ring.remove(slot.route)
    if (!this.#closing && !w.leaving) this.#scheduleRespawn(slot)
  }

  /** Refills an empty slot after the back-off delay, again and again until it works or crash-loops. */
  #scheduleRespawn(slot: Slot): void {
    const delay = this.#recordCrash(slot)
    if (delay === undefined) return
    slot.respawn = setTimeout(() => {
      slot.respawn = undefined
      if (this.#closing || slot.current !== undefined) return
      this.#metrics.restarts++
      slot.restarts++
      const fresh = this.#fork(slot)
      this.#whenReady(fresh).then(
        () => {
          if (this.#closing || slot.current !== undefined) return void this.#drain(fresh)
          this.#install(slot, fresh)
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
    const now = Date.now()
    slot.crashes = slot.crashes.filter((t) => now - t < this.#options.restartWindow)
    slot.crashes.push(now)
    if (slot.crashes.length >= this.#options.maxRestarts) {
      slot.failed = true
      this.#metrics.crashLoops++
      this.emit('crash-loop', slot.route)
      return undefined
    }
    const delay = this.#options.restartDelay * 2 ** (slot.crashes.length - 1)
    return Math.min(delay, this.#options.maxRestartDelay)
  }
}
