// A worker's requests to its primary that wait for an answer over the IPC channel: each gets a
// number the answer carries back, and a deadline after which it rejects (a primary that is busy
// or gone must not leave a caller waiting for ever).

interface Pending<T> {
  readonly resolve: (value: T) => void
  readonly reject: (error: Error) => void
  readonly timer: NodeJS.Timeout
}

/** Requests waiting for their answer, by the number each was sent with. */
export class PendingReplies<T> {
  readonly #pending = new Map<number, Pending<T>>()
  readonly #timeoutMs: number
  readonly #timeoutMessage: string
  #nextRef = 0

  /** `timeoutMessage` is the error of a request whose answer did not come within `timeoutMs`. */
  constructor(timeoutMs: number, timeoutMessage: string) {
    this.#timeoutMs = timeoutMs
    this.#timeoutMessage = timeoutMessage
  }

  /** Sends a request with `send(ref)` and resolves with the answer given to `resolve(ref, …)`. */
  request(send: (ref: number) => void): Promise<T> {
    const ref = this.#nextRef++
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => this.reject(ref, new Error(this.#timeoutMessage)), this.#timeoutMs)
      timer.unref()
      this.#pending.set(ref, { resolve, reject, timer })
      send(ref)
    })
  }

  resolve(ref: number, value: T): void {
    this.#take(ref)?.resolve(value)
  }

  reject(ref: number, error: Error): void {
    this.#take(ref)?.reject(error)
  }

  #take(ref: number): Pending<T> | undefined {
    const entry = this.#pending.get(ref)
    if (entry === undefined) return undefined
    this.#pending.delete(ref)
    clearTimeout(entry.timer)
    return entry
  }
}
