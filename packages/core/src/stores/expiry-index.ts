/**
 * Which ids expire when, grouped into time buckets, so that removing what has expired costs time
 * proportional to what expired (plus a heap step per bucket), never to what is stored.
 */
export class ExpiryIndex {
  readonly #resolution: number
  /** bucket start -> ids whose expiry falls in that bucket */
  readonly #buckets = new Map<number, Set<string>>()
  /** min-heap of bucket starts */
  readonly #heap: number[] = []

  /** @param resolution bucket width in ms: expiry may run up to this late. */
  constructor(resolution: number) {
    this.#resolution = resolution
  }

  #bucketOf(expiresAt: number): number {
    return Math.ceil(expiresAt / this.#resolution) * this.#resolution
  }

  /** Files `id` under `expiresAt`, moving it from `previous` (its earlier expiry) when given. */
  schedule(id: string, expiresAt: number, previous?: number): void {
    const bucket = this.#bucketOf(expiresAt)
    if (previous !== undefined) {
      const old = this.#bucketOf(previous)
      if (old === bucket) return
      this.#buckets.get(old)?.delete(id)
    }
    let ids = this.#buckets.get(bucket)
    if (ids === undefined) {
      ids = new Set()
      this.#buckets.set(bucket, ids)
      this.#push(bucket)
    }
    ids.add(id)
  }

  unschedule(id: string, expiresAt: number): void {
    this.#buckets.get(this.#bucketOf(expiresAt))?.delete(id)
  }

  /** Removes and yields every id in buckets that ended at or before `now`. */
  *takeExpired(now: number): Generator<string> {
    while (this.#heap.length > 0 && this.#heap[0]! <= now) {
      const bucket = this.#pop()
      const ids = this.#buckets.get(bucket)
      this.#buckets.delete(bucket)
      if (ids !== undefined) yield* ids
    }
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
