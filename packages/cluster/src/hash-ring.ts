import { optionError } from '@tether/core/adapter'

/**
 * 32-bit FNV-1a over a string's UTF-16 code units, followed by murmur3's fmix32 finaliser.
 * FNV-1a alone is fast but leaves the high bits of short, similar keys ("w1#17", "w1#18")
 * correlated, which would bunch virtual nodes together on the ring; the finaliser avalanches them.
 * Not cryptographic: a client that can choose keys can choose which worker they land on, which
 * is no worse than choosing a cookie.
 */
export function hash32(key: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** How the ring places its nodes. */
export interface HashRingOptions {
  /**
   * Points each node gets on the ring. More points even out the load (the spread of a node's
   * share shrinks with 1/sqrt(points)) at the cost of memory and a slightly deeper binary search.
   * 512 keeps max/mean at or below 1.10 for 8 nodes and 1,000,000 keys.
   * @default 512
   */
  virtualNodes?: number
}

/** Default points per node; see HashRingOptions.virtualNodes. */
export const DEFAULT_VIRTUAL_NODES = 512

/**
 * A consistent-hash ring: each node owns the arcs that end at its virtual nodes, and a key
 * belongs to the first point at or after its hash. Adding or removing a node only moves the keys
 * of that node's arcs; keys never move between the other nodes.
 *
 * @example
 * const ring = new HashRing(['w0', 'w1', 'w2'])
 * ring.get('203.0.113.7') // 'w1'
 * ring.remove('w1')
 * ring.get('203.0.113.7') // 'w0' or 'w2'; keys of w0 and w2 stay where they were
 */
export class HashRing {
  readonly virtualNodes: number
  readonly #pointsByNode = new Map<string, Uint32Array>()
  #nodes: string[] = []
  #points = new Uint32Array(0)
  #owners = new Uint16Array(0)

  constructor(nodes: Iterable<string> = [], options: HashRingOptions = {}) {
    const v = options.virtualNodes ?? DEFAULT_VIRTUAL_NODES
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65_536) {
      throw optionError('virtualNodes', 'an integer from 1 to 65536', v)
    }
    this.virtualNodes = v
    for (const node of nodes) this.#place(node)
    this.#rebuild()
  }

  /** Number of nodes on the ring. */
  get size(): number {
    return this.#nodes.length
  }

  /** The nodes on the ring, in the order they were added. */
  nodes(): readonly string[] {
    return this.#nodes
  }

  has(node: string): boolean {
    return this.#pointsByNode.has(node)
  }

  /** Adds a node; adding one that is already there does nothing. */
  add(node: string): void {
    if (this.#pointsByNode.has(node)) return
    this.#place(node)
    this.#rebuild()
  }

  /** Removes a node; its keys go to the next points clockwise, nobody else's move. */
  remove(node: string): void {
    if (!this.#pointsByNode.delete(node)) return
    this.#nodes = this.#nodes.filter((n) => n !== node)
    this.#rebuild()
  }

  /** The node that owns `key`, or undefined when the ring is empty. */
  get(key: string): string | undefined {
    const points = this.#points
    if (points.length === 0) return undefined
    return this.#nodes[this.#owners[this.#search(hash32(key))]!]
  }

  /**
   * The node that would own `key` if `excluded` were not on the ring (the next point clockwise
   * that is not its): where the key goes when that node is gone. Undefined with no other node.
   */
  getExcluding(key: string, excluded: string): string | undefined {
    const points = this.#points
    const skip = this.#nodes.indexOf(excluded)
    let index = points.length === 0 ? 0 : this.#search(hash32(key))
    for (let steps = 0; steps < points.length; steps++) {
      const owner = this.#owners[index]!
      if (owner !== skip) return this.#nodes[owner]
      index = index + 1 === points.length ? 0 : index + 1
    }
    return undefined
  }

  /**
   * Consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam): the owner of `key`
   * unless its load would exceed `factor` times the average, in which case the next node clockwise
   * that has room. `load(node)` returns the node's current load (for example open connections).
   */
  getBounded(key: string, load: (node: string) => number, factor: number): string | undefined {
    const points = this.#points
    const count = this.#nodes.length
    if (count === 0) return undefined
    let total = 0
    for (const node of this.#nodes) total += load(node)
    const limit = Math.ceil((factor * (total + 1)) / count)
    let index = this.#search(hash32(key))
    const first = this.#nodes[this.#owners[index]!]!
    // Walk at most once around the ring; each node is judged the first time it is met.
    const seen = new Set<number>()
    for (let steps = 0; steps < points.length && seen.size < count; steps++) {
      const owner = this.#owners[index]!
      if (!seen.has(owner)) {
        seen.add(owner)
        const node = this.#nodes[owner]!
        if (load(node) + 1 <= limit) return node
      }
      index = index + 1 === points.length ? 0 : index + 1
    }
    return first
  }

  /** Index of the first point at or after `h`, wrapping to 0 past the end. */
  #search(h: number): number {
    const points = this.#points
    let lo = 0
    let hi = points.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (points[mid]! < h) lo = mid + 1
      else hi = mid
    }
    return lo === points.length ? 0 : lo
  }

  #place(node: string): void {
    if (typeof node !== 'string' || node.length === 0) throw optionError('node', 'a non-empty string', node)
    if (this.#pointsByNode.has(node)) return
    if (this.#nodes.length >= 65_535) throw new RangeError('a HashRing holds at most 65535 nodes')
    const points = new Uint32Array(this.virtualNodes)
    for (let i = 0; i < points.length; i++) points[i] = hash32(`${node}#${i}`)
    this.#pointsByNode.set(node, points)
    this.#nodes.push(node)
  }

  #rebuild(): void {
    // Ties between nodes (equal 32-bit points) are broken by node name, not by insertion order,
    // so that a ring rebuilt after a removal agrees with the old one on every surviving point.
    const order = this.#nodes
      .map((node, index) => ({ node, index }))
      .sort((a, b) => (a.node < b.node ? -1 : 1))
    const rank = new Map(order.map((entry, r) => [entry.index, r]))
    const total = this.#nodes.length * this.virtualNodes
    // point * 2^16 + rank stays below 2^48, exact in a double, so one numeric sort orders both.
    const keys = new Float64Array(total)
    let k = 0
    this.#nodes.forEach((node, index) => {
      const r = rank.get(index)!
      for (const p of this.#pointsByNode.get(node)!) keys[k++] = p * 65_536 + r
    })
    keys.sort()
    this.#points = new Uint32Array(total)
    this.#owners = new Uint16Array(total)
    for (let i = 0; i < total; i++) {
      const key = keys[i]!
      const r = key % 65_536
      this.#points[i] = (key - r) / 65_536
      this.#owners[i] = order[r]!.index
    }
  }
}
