/**
 * What an item carries to be filed in an ExpiryIndex: its bucket and its neighbours in the
 * bucket's list. Threading the lists through the items makes filing, moving and removing one
 * cost no hashing and no allocation (a new session does all three when it evicts another).
 */
export interface Expiring<T> {
  /** The bucket the item is filed in; undefined when it is not filed. */
  expiryBucket: ExpiryBucket<T> | undefined
  expiryPrev: T | undefined
  expiryNext: T | undefined
}

/** The items whose expiry falls in one time bucket, as a list threaded through them. */
export interface ExpiryBucket<T> {
  readonly start: number
  first: T | undefined
}

/**
 * Which items expire when, grouped into time buckets, so that removing what has expired costs time
 * proportional to what expired (plus a heap step per bucket), never to what is stored.
 */
export class ExpiryIndex<T extends Expiring<T>> {
  readonly #resolution: number
  /** bucket start -> the bucket */
  readonly #buckets = new Map<number, ExpiryBucket<T>>()
  /** min-heap of bucket starts */
  readonly #heap: number[] = []

  /** @param resolution bucket width in ms: expiry may run up to this late. */
  constructor(resolution: number) {
    this.#resolution = resolution
  }

  #bucketOf(expiresAt: number): number {
    return Math.ceil(expiresAt / this.#resolution) * this.#resolution
  }

  /** Files `item` under `expiresAt`, moving it from the bucket it was in. */
  schedule(item: T, expiresAt: number): void {
    const start = this.#bucketOf(expiresAt)
    const current = item.expiryBucket
    if (current !== undefined) {
      if (current.start === start) return
      this.unschedule(item)
    }
    let bucket = this.#buckets.get(start)
    if (bucket === undefined) {
      bucket = { start, first: undefined }
      this.#buckets.set(start, bucket)
      this.#push(start)
    }
    const first = bucket.first
    if (first !== undefined) first.expiryPrev = item
    item.expiryNext = first
    item.expiryPrev = undefined
    item.expiryBucket = bucket
    bucket.first = item
  }

  unschedule(item: T): void {
    const bucket = item.expiryBucket
    if (bucket === undefined) return
    const prev = item.expiryPrev
    const next = item.expiryNext
    if (prev === undefined) bucket.first = next
    else prev.expiryNext = next
    if (next !== undefined) next.expiryPrev = prev
    item.expiryBucket = item.expiryPrev = item.expiryNext = undefined
  }

  /**
   * Removes the items of every bucket that ended at or before `now`, handing each to `expired` as
   * it goes (one visit per item: the pass touches each item's memory once).
   */
  takeExpired(now: number, expired: (item: T) => void): void {
    while (this.#heap.length > 0 && this.#heap[0]! <= now) {
      const start = this.#pop()
      const bucket = this.#buckets.get(start)
      if (bucket === undefined) continue
      this.#buckets.delete(start)
      for (let item = bucket.first; item !== undefined; ) {
        const next = item.expiryNext
        item.expiryBucket = item.expiryPrev = item.expiryNext = undefined
        expired(item)
        item = next
      }
    }
  }

  /** Forgets every item (their links point at buckets no longer here: filing one again unlinks it). */
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
