import type { SlotSnapshot } from './metrics.js'
import type { ResolvedClusterOptions } from './options.js'
import type { WorkerProcess } from './worker-process.js'

/** The restart settings a slot's crash record follows. */
type RestartPolicy = Pick<
  ResolvedClusterOptions,
  'restartWindow' | 'maxRestarts' | 'restartDelay' | 'maxRestartDelay'
>

/**
 * One of the cluster's worker places: its route, the worker in it now, and what its workers have
 * been through (crashes, restarts, the figures of those that exited), which outlives each worker.
 */
export class Slot {
  current: WorkerProcess | undefined = undefined
  /** Gave up after crash-looping, until reload() gives it a new chance. */
  failed = false
  restarts = 0
  /** Connections the router handed to this slot's workers. */
  routed = 0
  respawn: NodeJS.Timeout | undefined = undefined
  /** Misroutes counted by this slot's previous workers. */
  pastMisroutes = 0
  /** Requests served by this slot's workers that have exited. */
  pastRequests = 0
  /** Exit times of unexpected exits within the restart window. */
  #crashes: number[] = []

  constructor(
    readonly index: number,
    readonly route: string,
  ) {}

  /**
   * Records an unexpected exit: the delay before the next worker (exponential back-off), or
   * undefined when the slot crash-loops (it is then failed).
   */
  recordCrash(policy: RestartPolicy, now = Date.now()): number | undefined {
    this.#crashes = this.#crashes.filter((t) => now - t < policy.restartWindow)
    this.#crashes.push(now)
    if (this.#crashes.length >= policy.maxRestarts) {
      this.failed = true
      return undefined
    }
    return Math.min(policy.restartDelay * 2 ** (this.#crashes.length - 1), policy.maxRestartDelay)
  }

  /** A new chance for a slot (reload): its crash record starts again. */
  forgive(): void {
    this.failed = false
    this.#crashes = []
  }

  /** The slot as metrics show it; `requests` and `draining` count its workers alive now. */
  snapshot(closing: boolean, requests: number, draining: number): SlotSnapshot {
    const current = this.current
    return {
      route: this.route,
      pid: current?.pid,
      state: closing
        ? 'stopped'
        : this.failed
          ? 'failed'
          : current === undefined
            ? 'restarting'
            : current.ready
              ? 'ready'
              : 'starting',
      connections: current?.connections ?? 0,
      routed: this.routed,
      restarts: this.restarts,
      requests: this.pastRequests + requests,
      sessions: current?.sessions ?? 0,
      draining,
    }
  }
}
