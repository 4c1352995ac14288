/**
 * Which items expire when, grouped into time buckets, so that removing what has expired costs time
 * proportional to what expired (plus a heap step per bucket), never to what is stored.
 */
export class ExpiryIndex<T> {
  readonly #resolution: number
  /** bucket start -> items whose expiry falls in that bucket */
  readonly #buckets = new Map<number, Set<T>>()
  /** min-heap of bucket starts */
  readonly #heap: number[] = []

  /** @param resolution bucket width in ms: expiry may run up to this late. */
  constructor(resolution: number) {
    this.#resolution = resolution
  }

  #bucketOf(expiresAt: number): number {
    return Math.ceil(expiresAt / this.#resolution) * this.#resolution
  }

  /** Files `item` under `expiresAt`, moving it from `previous` (its earlier expiry) when given. */
  schedule(item: T, expiresAt: number, previous?: number): void {
    const bucket = this.#bucketOf(expiresAt)
    if (previous !== undefined) {
      const old = this.#bucketOf(previous)
      if (old === bucket) return
      this.#buckets.get(old)?.delete(item)
    }
    let ids = this.#buckets.get(bucket)
    if (ids === undefined) {
      ids = new Set()
      this.#buckets.set(bucket, ids)
      this.#push(bucket)
    }
    ids.add(item)
  }

  unschedule(item: T, expiresAt: number): void {
    this.#buckets.get(this.#bucketOf(expiresAt))?.delete(item)
  }

  /** Removes and returns the item sets of every bucket that ended at or before `now`. */
  takeExpired(now: number): Set<T>[] {
    const taken: Set<T>[] = []
    while (this.#heap.length > 0 && this.#heap[0]! <= now) {
      const bucket = this.#pop()
      const ids = this.#buckets.get(bucket)
      this.#buckets.delete(bucket)
      if (ids !== undefined) taken.push(ids)
    }
    return taken
  }

  clear(): void {
    this.#buckets.clear()
    this.#heap.length = 0
  }

  #push(value: number): void {
    const heap = this.#heap
    let i = heap.push(value) - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (heap[parent]! <= value) break
      heap[i] = heap[parent]!
      i = parent
    }
    heap[i] = value
  }

  #pop(): number {
    const heap = this.#heap
    const top = heap[0]!
    const last = heap.pop()!
    if (heap.length > 0) {
      let i = 0
      for (;;) {
        const left = 2 * i + 1
        if (left >= heap.length) break
        const right = left + 1
        const child = right < heap.length && heap[right]! < heap[left]! ? right : left
        if (heap[child]! >= last) break
        heap[i] = heap[child]!
        i = child
      }
      heap[i] = last
    }
    return top
  }
}
