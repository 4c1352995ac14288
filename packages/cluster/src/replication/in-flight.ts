// The batches a worker has sent to its backups and not yet seen answered, and the 'sync' writes
// that wait for them. A batch is done when every backup it went to answered (or the connection to
// one was lost); batches are finished in the order they were sent, so a write released with a
// batch knows that every change before its own is applied too, whichever backup took it. Every
// wait has one deadline (replicationTimeout after the first write that waits), and one timer
// serves them all.

/** One batch in flight. */
export interface Batch {
  readonly sentAt: number
  /** Backups it went to that have not answered, plus one until it is sealed. */
  parts: number
  /** Changes not answered yet (for `pending`). */
  unanswered: number
  /** Snapshots (see SnapshotMessage) whose last change is in this batch. */
  readonly snapshotsDone: readonly number[]
  /** Writes released when this batch and every one before it are done. */
  waiters: Array<() => void>
  /** When the waiters are released anyway, counted as unacknowledged. */
  deadline: number
}

type Waiting = Pick<Batch, 'waiters' | 'deadline'>

export class InFlight {
  readonly #timeout: number
  readonly #onDone: (batch: Batch) => void
  #batches: Batch[] = []
  /** Writes whose changes are still queued: they go with the batch that empties the queue. */
  #queued: Waiting | undefined
  #timer: NodeJS.Timeout | undefined
  #timerAt = 0
  /** Writes released by their deadline. */
  timedOut = 0

  constructor(timeout: number, onDone: (batch: Batch) => void) {
    this.#timeout = timeout
    this.#onDone = onDone
  }

  get size(): number {
    return this.#batches.length
  }

  /** Changes sent and not answered. */
  get unanswered(): number {
    let n = 0
    for (const batch of this.#batches) n += batch.unanswered
    return n
  }

  /** When the oldest change still unanswered was sent. */
  get oldestSentAt(): number | undefined {
    for (const batch of this.#batches) if (batch.unanswered > 0) return batch.sentAt
    return undefined
  }

  /** A new batch, open for parts until seal(); `last` when it empties the queue (its waiters come along). */
  start(snapshotsDone: readonly number[], last: boolean): Batch {
    const batch: Batch = {
      sentAt: Date.now(),
      parts: 1,
      unanswered: 0,
      snapshotsDone,
      waiters: [],
      deadline: 0,
    }
    if (last && this.#queued !== undefined) {
      batch.waiters = this.#queued.waiters
      batch.deadline = this.#queued.deadline
      this.#queued = undefined
    }
    this.#batches.push(batch)
    return batch
  }

  addPart(batch: Batch, count: number): void {
    batch.parts++
    batch.unanswered += count
  }

  /** One backup answered (or was lost) for `count` changes of `batch`. */
  answered(batch: Batch, count: number): void {
    batch.unanswered -= count
    if (--batch.parts === 0) this.#finish()
  }

  /** Every part of `batch` is sent. */
  seal(batch: Batch): void {
    if (--batch.parts === 0) this.#finish()
  }

  /**
   * Resolves once the changes made so far are applied: with the batch that will carry them when
   * `queued`, else with the newest batch in flight; or at the deadline.
   */
  wait(queued: boolean): Promise<void> {
    if (queued) this.#queued ??= { waiters: [], deadline: 0 }
    const target = queued ? this.#queued : this.#batches.at(-1)
    if (target === undefined) return Promise.resolve()
    return new Promise((resolve) => {
      if (target.waiters.push(resolve) > 1) return
      target.deadline = Date.now() + this.#timeout
      this.#arm(target.deadline)
    })
  }

  #finish(): void {
    while (this.#batches.length > 0 && this.#batches[0]!.parts === 0) {
      const batch = this.#batches.shift()!
      for (const release of batch.waiters) release()
      batch.waiters = []
      this.#onDone(batch)
    }
  }

  #arm(at: number): void {
    if (this.#timer !== undefined && this.#timerAt <= at) return
    clearTimeout(this.#timer)
    this.#timerAt = at
    this.#timer = setTimeout(() => this.#expire(), Math.max(0, at - Date.now()))
    this.#timer.unref()
  }

  #expire(): void {
    this.#timer = undefined
    const now = Date.now()
    let next = Number.POSITIVE_INFINITY
    const targets: Waiting[] = this.#queued === undefined ? this.#batches : [...this.#batches, this.#queued]
    for (const target of targets) {
      if (target.waiters.length === 0) continue
      if (target.deadline > now) {
        next = Math.min(next, target.deadline)
        continue
      }
      this.timedOut += target.waiters.length
      for (const release of target.waiters) release()
      target.waiters = []
    }
    if (next !== Number.POSITIVE_INFINITY) this.#arm(next)
  }
}
