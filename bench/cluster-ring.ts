// Consistent-hash ring: lookups per second, distribution and movement, Tether's HashRing against
// the npm `hashring` package, 8 workers and 1,000,000 random keys, in one run.
//
//   npm run bench:cluster-ring [-- --json <file>]
//   (= node --import tsx --conditions=tether-source bench/cluster-ring.ts)
import { randomBytes } from 'node:crypto'
import { HashRing } from '@tether/cluster'
import HashRingNpm from 'hashring'
import { jsonArgument, writeResults } from './results.js'

const json = jsonArgument()
const KEYS = 1_000_000
const nodes = Array.from({ length: 8 }, (_, i) => `w${i}`)
const bytes = randomBytes(KEYS * 8)
const keys: string[] = new Array(KEYS)
for (let i = 0; i < KEYS; i++) keys[i] = bytes.toString('hex', i * 8, i * 8 + 8)

interface Ring {
  get(key: string): string
  remove(node: string): void
}

const rings: Record<string, () => Ring> = {
  tether: () => {
    const ring = new HashRing(nodes)
    return { get: (k) => ring.get(k)!, remove: (n) => ring.remove(n) }
  },
  hashring: () => {
    const ring = new HashRingNpm(nodes)
    return { get: (k) => ring.get(k), remove: (n) => void ring.remove(n) }
  },
}

function lookupsPerSecond(ring: Ring): number {
  // Best of 3 passes over all keys, to dodge the noise of a shared machine.
  let best = 0
  let sink = 0
  for (let run = 0; run < 3; run++) {
    const start = process.hrtime.bigint()
    for (let i = 0; i < KEYS; i++) sink += ring.get(keys[i]!).length
    const seconds = Number(process.hrtime.bigint() - start) / 1e9
    best = Math.max(best, KEYS / seconds)
  }
  if (sink === 0) console.log('')
  return best
}

const rows: string[] = []
const rates: Record<string, number> = {}
const figures: Array<{
  ring: string
  lookupsPerSecond: number
  maxMeanLoad: number
  movedTimesEighth: number
  movedBetweenSurvivors: number
}> = []
for (const [name, make] of Object.entries(rings)) {
  const ring = make()
  const rate = lookupsPerSecond(ring)
  rates[name] = rate
  const counts = new Map<string, number>()
  const before = keys.map((k) => {
    const n = ring.get(k)
    counts.set(n, (counts.get(n) ?? 0) + 1)
    return n
  })
  const maxMean = Math.max(...counts.values()) / (KEYS / nodes.length)
  ring.remove('w3')
  let moved = 0
  let betweenSurvivors = 0
  keys.forEach((k, i) => {
    const n = ring.get(k)
    if (n === before[i]) return
    moved++
    if (before[i] !== 'w3') betweenSurvivors++
  })
  figures.push({
    ring: name,
    lookupsPerSecond: rate,
    maxMeanLoad: maxMean,
    movedTimesEighth: (moved / KEYS) * 8,
    movedBetweenSurvivors: betweenSurvivors,
  })
  rows.push(
    `| ${name} | ${(rate / 1e6).toFixed(2)}M/s | ${maxMean.toFixed(3)} | ${((moved / KEYS) * 8).toFixed(3)} x 1/8 | ${betweenSurvivors} |`,
  )
}
console.log(`8 nodes, ${KEYS.toLocaleString('en')} random keys, Node ${process.version}\n`)
console.log('| ring | lookups | max/mean load | moved when 1 of 8 leaves | moved between survivors |')
console.log('| --- | --- | --- | --- | --- |')
for (const row of rows) console.log(row)
console.log(`\nTether / hashring lookups: ${(rates.tether! / rates.hashring!).toFixed(1)}x`)
writeResults(json.file, 'cluster-ring', json.args, {
  settings: { nodes: nodes.length, keys: KEYS },
  rings: figures,
  tetherVsHashring: rates.tether! / rates.hashring!,
})
