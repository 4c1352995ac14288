import { EventEmitter } from 'node:events'
import type { AddressInfo, Server } from 'node:net'
import type { MetricsReplyMessage } from './messages.js'
import { type ClusterMetricsSnapshot, REPLICATION_OFF, type SlotSnapshot } from './metrics.js'
import type { Router } from './router.js'
import type { Supervisor } from './supervisor.js'
import type { WorkerProcess } from './worker-process.js'

/**
 * The running cluster, in the primary. Emits 'exit' (route, code, signal, planned) when a worker
 * exits (`planned` is true when the cluster itself asked it to go: reload(), close(), SIGTERM),
 * 'crash-loop' (route) when a slot is given up on, and 'hung' (route, pid) when a worker that
 * stopped answering is killed.
 */
export class Cluster extends EventEmitter {
  readonly #server: Server
  readonly #supervisor: Supervisor
  readonly #router: Router
  readonly #onSignal: (() => void) | undefined
  #closing: Promise<void> | undefined

  /** @internal built by startCluster() */
  constructor(server: Server, supervisor: Supervisor, router: Router, handleSignals: boolean) {
    super()
    this.#server = server
    this.#supervisor = supervisor
    this.#router = router
    supervisor.on('exit', (...args) => this.emit('exit', ...args))
    supervisor.on('metrics-request', (w: WorkerProcess, ref: number) => {
      const reply: MetricsReplyMessage = { tether: 'metrics', ref, metrics: this.metrics() }
      w.worker.send(reply, undefined, {}, () => undefined)
    })
    supervisor.on('crash-loop', (route: string) => {
      if (this.listenerCount('crash-loop') === 0) {
        process.emitWarning(`worker slot ${route} keeps crashing and is no longer restarted`, {
          type: 'TetherWarning',
          code: 'TETHER_CRASH_LOOP',
        })
      }
      this.emit('crash-loop', route)
    })
    supervisor.on('hung', (route: string, pid: number | undefined) => {
      if (this.listenerCount('hung') === 0) {
        process.emitWarning(
          `worker ${route} (pid ${pid}) sent no heartbeat within heartbeatTimeout: killed and replaced; its sessions go to the ring's pick meanwhile`,
          { type: 'TetherWarning', code: 'TETHER_WORKER_HUNG' },
        )
      }
      this.emit('hung', route, pid)
    })
    if (handleSignals) {
      this.#onSignal = () => {
        this.close().then(
          () => process.exit(0),
          () => process.exit(1),
        )
      }
      process.once('SIGTERM', this.#onSignal)
      process.once('SIGINT', this.#onSignal)
    }
  }

  /** The port the primary listens on. */
  get port(): number {
    return (this.#server.address() as AddressInfo).port
  }

  /** The address the primary listens on. */
  get address(): AddressInfo {
    return this.#server.address() as AddressInfo
  }

  /** The worker slots: route, pid, state, open connections. */
  get workers(): readonly SlotSnapshot[] {
    return this.#supervisor.slots()
  }

  /**
   * Replaces every worker, one at a time, with no failed requests: the new worker takes the slot
   * (and its route) once ready, then the old one drains. Use it to deploy new code.
   */
  reload(): Promise<void> {
    return this.#supervisor.reload()
  }

  /** Counters of the router and the supervisor. */
  metrics(): ClusterMetricsSnapshot {
    const routing = this.#router.counters
    const lives = this.#supervisor.counters
    return {
      routed: routing.routed,
      routedBy: { ...routing.routedBy },
      fallbacks: routing.fallbacks,
      misroutes: this.#supervisor.misroutes(),
      rejected: { ...routing.rejected },
      aborted: routing.aborted,
      handoffRetries: routing.handoffRetries,
      restarts: lives.restarts,
      crashLoops: lives.crashLoops,
      hung: lives.hung,
      replication: this.#supervisor.replication?.metrics() ?? { ...REPLICATION_OFF },
      slots: this.#supervisor.slots(),
    }
  }

  /** Stops accepting, lets every worker finish its connections (up to drainTimeout), and resolves when all have exited. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#onSignal !== undefined) {
        process.removeListener('SIGTERM', this.#onSignal)
        process.removeListener('SIGINT', this.#onSignal)
      }
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()))
      this.#router.closePending()
      await this.#supervisor.close()
      await closed
    })()
    return this.#closing
  }
}
