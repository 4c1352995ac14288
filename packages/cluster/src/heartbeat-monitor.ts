import { heartbeatInterval } from './options.js'

/**
 * Notices workers that stopped answering: each watched worker must be heard from (any IPC message,
 * the worker's heartbeat at least) within `timeout` ms, or `onHung` is called for it once. One
 * timer for all workers, unref'd.
 */
export class HeartbeatMonitor<W> {
  readonly #timeout: number
  readonly #interval: number
  readonly #onHung: (worker: W) => void
  readonly #lastHeard = new Map<W, number>()
  #timer: NodeJS.Timeout | undefined
  #lastCheck = 0

  /** `timeout` 0 watches nothing. */
  constructor(timeout: number, onHung: (worker: W) => void) {
    this.#timeout = timeout
    this.#interval = timeout > 0 ? heartbeatInterval(timeout) : 0
    this.#onHung = onHung
  }

  watch(worker: W): void {
    if (this.#timeout === 0) return
    this.#lastHeard.set(worker, Date.now())
    if (this.#timer === undefined) {
      this.#lastCheck = Date.now()
      this.#timer = setInterval(() => this.#check(), this.#interval).unref()
    }
  }

  heard(worker: W): void {
    if (this.#lastHeard.has(worker)) this.#lastHeard.set(worker, Date.now())
  }

  forget(worker: W): void {
    this.#lastHeard.delete(worker)
    if (this.#lastHeard.size === 0) this.close()
  }

  close(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  #check(): void {
    const now = Date.now()
    const late = now - this.#lastCheck > 2 * this.#interval
    this.#lastCheck = now
    if (late) {
      // This process was blocked itself: the heartbeats sent meanwhile are still unread (timers
      // run before the event loop reads its sockets), so nobody can be judged this time.
      for (const worker of this.#lastHeard.keys()) this.#lastHeard.set(worker, now)
      return
    }
    for (const [worker, heard] of this.#lastHeard) {
      if (now - heard <= this.#timeout) continue
      this.forget(worker)
      this.#onHung(worker)
    }
  }
}
