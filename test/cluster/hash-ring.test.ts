import { randomBytes } from 'node:crypto'
import { HashRing } from '@tether/cluster'
import { expect } from 'chai'
import { hash32 } from '../../packages/cluster/src/hash-ring.js'

/** `count` random 16-hex-character keys. */
function randomKeys(count: number): string[] {
  const bytes = randomBytes(count * 8)
  const keys: string[] = new Array(count)
  for (let i = 0; i < count; i++) keys[i] = bytes.toString('hex', i * 8, i * 8 + 8)
  return keys
}

const EIGHT = Array.from({ length: 8 }, (_, i) => `w${i}`)

describe('HashRing', () => {
  // 1,000,000 keys, as bench/cluster-ring.ts uses; this takes about a second.
  const keys = randomKeys(1_000_000)

  describe('distribution', () => {
    it('keeps max/mean at or below 1.10 with 8 workers and 1,000,000 random keys', () => {
      const ring = new HashRing(EIGHT)
      const counts = new Map<string, number>()
      for (const key of keys) {
        const node = ring.get(key)!
        counts.set(node, (counts.get(node) ?? 0) + 1)
      }
      expect(counts.size).to.equal(8)
      const max = Math.max(...counts.values())
      expect(max / (keys.length / 8)).to.be.at.most(1.1)
    })

    it('keeps max/mean at or below 1.10 for routes with a node name too', () => {
      const ring = new HashRing(EIGHT.map((w) => `eu-1-${w}`))
      const counts = new Map<string, number>()
      for (const key of keys.slice(0, 200_000)) {
        const node = ring.get(key)!
        counts.set(node, (counts.get(node) ?? 0) + 1)
      }
      expect(Math.max(...counts.values()) / 25_000).to.be.at.most(1.1)
    })
  })

  describe('movement', () => {
    it('moves at most 1.2 x 1/8 of the keys when one of 8 workers leaves, none between survivors', () => {
      const ring = new HashRing(EIGHT)
      const before = keys.map((key) => ring.get(key)!)
      ring.remove('w3')
      let moved = 0
      let betweenSurvivors = 0
      keys.forEach((key, i) => {
        const now = ring.get(key)!
        if (now === before[i]) return
        moved++
        if (before[i] !== 'w3') betweenSurvivors++
      })
      expect(betweenSurvivors).to.equal(0)
      expect(moved / keys.length).to.be.at.most((1.2 * 1) / 8)
    })

    it('gives a worker back exactly its keys when it returns', () => {
      const ring = new HashRing(EIGHT)
      const sample = keys.slice(0, 50_000)
      const before = sample.map((key) => ring.get(key))
      ring.remove('w5')
      ring.add('w5')
      expect(sample.map((key) => ring.get(key))).to.deep.equal(before)
    })

    it('does not depend on the order nodes were added', () => {
      const a = new HashRing(EIGHT)
      const b = new HashRing([...EIGHT].reverse())
      for (const key of keys.slice(0, 10_000)) expect(b.get(key)).to.equal(a.get(key))
    })
  })

  describe('lookups', () => {
    it('returns undefined on an empty ring and the only node on a ring of one', () => {
      expect(new HashRing().get('x')).to.equal(undefined)
      expect(new HashRing(['solo']).get('anything')).to.equal('solo')
    })

    it('hashes with FNV-1a and the murmur3 finaliser (known answers, computed independently)', () => {
      // A change here would send every client to another worker: it must be deliberate.
      const known: Array<[string, number]> = [
        ['', 2872998923],
        ['w0#0', 567059014],
        ['w1#511', 2359864531],
        ['tether', 3083048367],
        ['198.51.100.7', 528467260],
        ['a-w3#17', 3375870618],
      ]
      for (const [key, hash] of known) expect(hash32(key), JSON.stringify(key)).to.equal(hash)
    })

    it('places keys where it always did (4 nodes, default virtual nodes)', () => {
      const ring = new HashRing(['w0', 'w1', 'w2', 'w3'])
      expect(['w5', '198.51.100.7', '2001:db8::1', 'x'].map((key) => ring.get(key))).to.deep.equal([
        'w0',
        'w2',
        'w3',
        'w2',
      ])
    })
  })

  describe('bounded load', () => {
    it('passes keys on clockwise once a node is above factor x average', () => {
      const ring = new HashRing(['w0', 'w1', 'w2', 'w3'])
      const load = new Map(ring.nodes().map((n) => [n, 0]))
      // Every key the same: plain hashing would pile them all on one node.
      for (let i = 0; i < 400; i++) {
        const node = ring.getBounded('same-client', (n) => load.get(n)!, 1.25)!
        load.set(node, load.get(node)! + 1)
      }
      const max = Math.max(...load.values())
      expect(max).to.be.at.most(Math.ceil((1.25 * 400) / 4))
      expect(ring.getBounded('same-client', () => 0, 1.25)).to.equal(ring.get('same-client'))
    })
  })

  describe('options', () => {
    it('rejects a bad virtualNodes with a TypeError naming it', () => {
      expect(() => new HashRing([], { virtualNodes: 0 })).to.throw(TypeError, /virtualNodes/)
      expect(() => new HashRing([], { virtualNodes: 1.5 })).to.throw(TypeError, /virtualNodes/)
    })
  })
})
