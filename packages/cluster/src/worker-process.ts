import type { Worker } from 'node:cluster'
import type { Connection } from './connection.js'
import type { ConnectionMessage, StatsMessage } from './messages.js'
import { onHandleAck } from './node-internals.js'
import type { ReplicaPeer } from './replication/peer-link.js'

// The primary's side of one worker process: the hand-off of connections over its IPC channel (one
// handle in flight at a time, acknowledged by Node's NODE_HANDLE_ACK) and what it reports.

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

interface Handed {
  readonly message: ConnectionMessage
  readonly connection: Connection
  readonly done: (delivered: boolean) => void
}

/** One worker process and what the primary knows about it. */
export class WorkerProcess implements PoolWorker {
  readonly worker: Worker
  readonly route: string
  ready = false
  /** Set when the primary asked it to go (drain, close): its exit is not a crash. */
  leaving = false
  exited = false
  reported = 0
  handedSinceReport = 0
  misroutes = 0
  requests = 0
  sessions = 0
  /** Where the other workers send it copies of their sessions (replication on). */
  replicaPeer: ReplicaPeer | undefined
  /**
   * Hand-offs waiting for the one in flight to be acknowledged. Node's channel carries one handle
   * at a time and would queue the rest itself, but it walks its whole queue again on every ACK.
   */
  readonly #waiting: Handed[] = []
  /** The hand-off written to the channel and not yet acknowledged. */
  #inFlight: Handed | undefined
  /** Takes no more connections: leaving, or going by a signal of its own. */
  #closedToHandOffs = false
  readonly exit: Promise<void>

  constructor(worker: Worker, route: string) {
    this.worker = worker
    this.route = route
    this.exit = new Promise((resolve) => worker.once('exit', () => resolve()))
    // Node's child_process acknowledges every handle it receives (NODE_HANDLE_ACK), before any
    // user code of the worker can touch the socket. Until then the connection is still ours.
    onHandleAck(worker.process, (received) => this.#acknowledged(received))
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

  /** Ready, and still taking connections. */
  get routable(): boolean {
    return this.ready && !this.#closedToHandOffs
  }

  get pid(): number | undefined {
    return this.worker.process.pid
  }

  /**
   * Resolves when the worker reports ready; rejects if it exits first, or kills it (an exit asked
   * for) and rejects when it takes longer than `timeout` ms.
   */
  whenReady(timeout: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup()
        this.leave()
        this.worker.process.kill('SIGKILL')
        reject(new Error(`not ready within readyTimeout (${timeout} ms)`))
      }, timeout)
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
        this.worker.off('tether:ready', onReady)
        this.worker.off('exit', onExit)
      }
      if (this.ready) return onReady()
      this.worker.on('tether:ready', onReady)
      this.worker.on('exit', onExit)
    })
  }

  /** Sends a message that needs no handle; a closed channel is the exit's business. */
  post(message: object): void {
    try {
      this.worker.send(message, undefined, {}, () => undefined)
    } catch {
      // The channel closed meanwhile: the exit handler takes it from here.
    }
  }

  isConnected(): boolean {
    return this.worker.isConnected()
  }

  get connections(): number {
    return this.reported + this.handedSinceReport
  }

  handOff(message: ConnectionMessage, connection: Connection, done: (delivered: boolean) => void): void {
    if (connection.closed) {
      done(true) // closed meanwhile: nothing left to deliver
      return
    }
    if (this.exited || this.#closedToHandOffs || !this.worker.isConnected()) {
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

  /** The primary asks this worker to go (its exit is not a crash): see stopHandOffs(). */
  leave(): void {
    this.leaving = true
    this.stopHandOffs()
  }

  /**
   * Hands over no more connections; those waiting for the channel go back to be routed again. The
   * one in flight stays: Node's channel delivers it before any message sent after it, 'drain'
   * included, so the worker counts it before it decides it is idle.
   */
  stopHandOffs(): void {
    this.#closedToHandOffs = true
    for (const entry of this.#waiting.splice(0)) entry.done(false)
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
    this.requests = stats.requests
    this.sessions = stats.sessions
  }
}
