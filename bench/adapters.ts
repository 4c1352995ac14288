// Adapters benchmark: the same two workloads on express + @tether/express vs
// express + express-session vs plain express, and fastify + @tether/fastify vs
// fastify + @fastify/session vs plain fastify, side by side in one run, with autocannon.
//   counter: GET /count with one kept cookie on every connection (load, increment, save);
//            afterwards the counter is compared with the number of 2xx answers.
//   create:  GET /new without a cookie: every request creates and stores a new session. Two more
//            stacks run beside them: the floor, the plain app sending a Set-Cookie of Tether's size
//            with a token from pooled CSPRNG output, the least any session library does here; and
//            the stored floor, which also keeps each session in a Map capped at 100,000 (evicting
//            the oldest), the least an in-memory store adds. The stored floor runs the counter
//            too: the session found in the Map by the cookie's token, its counter incremented.
// Each target runs in its own child process, all three at once; autocannon runs here and
// alternates between them in short turns (--slices) so that drift in machine speed hits all alike.
// Usage: npm run bench:adapters [-- --duration 5] [--connections 50] [--repeat 1]
//   [--slices 5] [--frameworks express,fastify] [--workloads counter,create] [--json <file>]
// (= node --import tsx --conditions=tether-source bench/adapters.ts: the TypeScript sources; without
// the condition, the built packages).
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { startTarget, stopTarget } from './adapter-target.js'
import { pinLoadGenerator, pinning } from './cpu-pinning.js'
import { jsonArgument, writeResults } from './results.js'

const json = jsonArgument()
const { values } = parseArgs({
  args: json.args,
  options: {
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '50' },
    frameworks: { type: 'string', default: 'express,fastify' },
    workloads: { type: 'string', default: 'counter,create' },
    // Rounds over the whole matrix, each in a rotated order; the table shows medians. On a shared
    // machine this evens out load that comes and goes during one case.
    repeat: { type: 'string', default: '1' },
    // Turns per round: each stack's measured time is cut into this many turns, alternating.
    slices: { type: 'string', default: '5' },
  },
})
const repeat = Number(values.repeat)
const duration = Number(values.duration)
const connections = Number(values.connections)
const slices = Number(values.slices)
const workloads = values.workloads.split(',') as Row['workload'][]
// BENCH_PIN=1 keeps autocannon (this process) and the servers on separate CPUs (see cpu-pinning.ts).
pinLoadGenerator()
for (const w of workloads) {
  if (w !== 'counter' && w !== 'create')
    throw new Error(`--workloads: unknown workload "${w}" (counter, create)`)
}

type Variant = 'plain' | 'tether' | 'anchor' | 'floor' | 'stored-floor'
const VARIANTS = {
  counter: ['plain', 'stored-floor', 'tether', 'anchor'],
  create: ['plain', 'floor', 'stored-floor', 'tether', 'anchor'],
} as const satisfies Record<Row['workload'], readonly Variant[]>

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}
const ANCHOR = { express: 'express-session', fastify: '@fastify/session' } as const
const TETHER = { express: '@tether/express', fastify: '@tether/fastify' } as const

interface Row {
  framework: string
  workload: 'counter' | 'create'
  variant: Variant
  rps: number
  p99: number
  /** Requests the server handled during the measured run (in-flight ones at the end included). */
  handled: number
  /** Server CPU time per handled request, in microseconds: steadier than req/s on a busy machine. */
  cpuPerRequest: number
  /** Server time in garbage collection per handled request, in microseconds (part of the CPU). */
  gcPerRequest: number
  errors: number
  /** Increments that reached the store during the measured run. */
  counted?: number
}

interface Stats {
  count: number
  handled: number
  cpuMicros: number
  gcMicros: number
}

interface Target {
  variant: Variant
  url: string
  child: Awaited<ReturnType<typeof startTarget>>['child']
  headers: Record<string, string>
  row: Row
}

/**
 * One round of one workload: the stacks run side by side, each in a fresh process, and the
 * measured time is cut into `slices` turns that alternate between them (rotating who goes first),
 * so a change in the machine's speed during the round falls on all of them alike.
 */
async function runRound(framework: string, workload: Row['workload'], round: number): Promise<Row[]> {
  const path = workload === 'counter' ? '/count' : '/new'
  const variants: readonly Variant[] = VARIANTS[workload]
  const order = variants.map((_, i) => variants[(i + round) % variants.length]!)
  const targets: Target[] = []
  try {
    for (const variant of order) {
      const { url, child } = await startTarget(framework, variant)
      const headers: Record<string, string> = {}
      const row: Row = {
        framework,
        workload,
        variant,
        rps: 0,
        p99: 0,
        handled: 0,
        cpuPerRequest: 0,
        gcPerRequest: 0,
        errors: 0,
      }
      targets.push({ variant, url, child, headers, row })
      if (workload === 'counter') {
        const first = await fetch(`${url}/count`)
        const cookie = first.headers.getSetCookie()[0]?.split(';')[0]
        if (cookie !== undefined) headers.cookie = cookie
        row.counted = 0
      }
    }
    // Short warm-up so JIT and pools settle, then the measured turns.
    for (const t of targets)
      await autocannon({ url: `${t.url}${path}`, connections, duration: 1, headers: t.headers })
    await settle()
    const p99s = new Map<Target, number[]>(targets.map((t) => [t, []]))
    const cpu = new Map<Target, number>(targets.map((t) => [t, 0]))
    const gc = new Map<Target, number>(targets.map((t) => [t, 0]))
    const requests = new Map<Target, number>(targets.map((t) => [t, 0]))
    for (let slice = 0; slice < slices; slice++) {
      for (let i = 0; i < targets.length; i++) {
        const t = targets[(i + slice) % targets.length]!
        const before = await peek(t.url, t.headers)
        const result = await autocannon({
          url: `${t.url}${path}`,
          connections,
          duration: duration / slices,
          headers: t.headers,
        })
        await settle()
        const after = await peek(t.url, t.headers)
        t.row.handled += after.handled - before.handled
        cpu.set(t, cpu.get(t)! + after.cpuMicros - before.cpuMicros)
        gc.set(t, gc.get(t)! + after.gcMicros - before.gcMicros)
        requests.set(t, requests.get(t)! + result.requests.total)
        p99s.get(t)!.push(result.latency.p99)
        t.row.errors += result.errors + result.non2xx + result.timeouts
        if (workload === 'counter') t.row.counted! += after.count - before.count
      }
    }
    for (const t of targets) {
      t.row.rps = requests.get(t)! / duration
      t.row.p99 = median(p99s.get(t)!)
      t.row.cpuPerRequest = cpu.get(t)! / t.row.handled
      t.row.gcPerRequest = gc.get(t)! / t.row.handled
    }
    return targets.map((t) => t.row)
  } finally {
    for (const t of targets) await stopTarget(t.child)
  }
}

/** Lets requests still in flight when autocannon stops reach the server and finish. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 300))

async function peek(url: string, headers: Record<string, string>): Promise<Stats> {
  const res = await fetch(`${url}/peek`, { headers })
  return (await res.json()) as Stats
}

const samples = new Map<string, Row[]>()
for (let round = 0; round < repeat; round++) {
  for (const framework of values.frameworks.split(',')) {
    for (const workload of workloads) {
      for (const row of await runRound(framework, workload, round)) {
        const key = `${framework} ${workload} ${row.variant}`
        samples.set(key, [...(samples.get(key) ?? []), row])
        console.error(
          `round ${round + 1}: ${key}: ${row.rps.toFixed(0)} req/s, ${row.cpuPerRequest.toFixed(0)} µs CPU/req (${row.gcPerRequest.toFixed(1)} in GC)`,
        )
      }
    }
  }
}
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0)
const rows: Row[] = [...samples.values()].map((runs) => {
  const row: Row = {
    ...runs[0]!,
    rps: median(runs.map((r) => r.rps)),
    p99: median(runs.map((r) => r.p99)),
    cpuPerRequest: median(runs.map((r) => r.cpuPerRequest)),
    gcPerRequest: median(runs.map((r) => r.gcPerRequest)),
    handled: sum(runs.map((r) => r.handled)),
    errors: sum(runs.map((r) => r.errors)),
  }
  if (runs[0]!.counted !== undefined) row.counted = sum(runs.map((r) => r.counted!))
  return row
})

/**
 * The median over rounds of one stack's req/s divided by another's, each round on its own:
 * steadier than the ratio of medians when the machine's speed drifts between rounds.
 */
const roundRatio = (framework: string, workload: string, variant: Variant, other: Variant): number => {
  const mine = samples.get(`${framework} ${workload} ${variant}`)!
  const them = samples.get(`${framework} ${workload} ${other}`)!
  return median(mine.map((row, round) => row.rps / them[round]!.rps))
}

const fmt = (n: number) => (n >= 1000 ? `${(n / 1000).toFixed(1)}k` : n.toFixed(0))
const name = (row: Row) =>
  row.variant === 'plain'
    ? `plain ${row.framework}`
    : row.variant === 'floor'
      ? `plain ${row.framework} + Set-Cookie (floor)`
      : row.variant === 'stored-floor'
        ? `plain ${row.framework} + a Map of sessions (stored floor)`
        : `${row.framework} + ${row.variant === 'tether' ? TETHER[row.framework as 'express'] : ANCHOR[row.framework as 'express']}`
console.log(
  `\n${duration} s per case in ${slices} alternating turns, ${connections} connections, ${repeat} round(s) (medians), CPU pinning: ${pinning()}, Node.js ${process.version}\n`,
)
console.log(
  '| workload | stack | req/s | p99 ms | req/s vs plain | req/s vs anchor | server CPU µs/req | CPU vs plain | GC µs/req | counter kept | errors |',
)
console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |')
for (const row of rows) {
  const same = (variant: Variant) =>
    rows.find((r) => r.framework === row.framework && r.workload === row.workload && r.variant === variant)!
  const plain = same('plain')
  const anchor = same('anchor')
  const vsPlain = row.variant === 'plain' ? '1.00x' : `${(row.rps / plain.rps).toFixed(2)}x`
  const vsAnchor = row.variant === 'tether' ? `${(row.rps / anchor.rps).toFixed(2)}x` : ''
  const cpuVsPlain = `${(row.cpuPerRequest / plain.cpuPerRequest).toFixed(2)}x`
  const counter =
    row.counted === undefined
      ? ''
      : `${row.counted} of ${row.handled} (${((100 * row.counted) / row.handled).toFixed(1)}%)`
  console.log(
    `| ${row.workload} | ${name(row)} | ${fmt(row.rps)} | ${row.p99} | ${vsPlain} | ${vsAnchor} | ${row.cpuPerRequest.toFixed(0)} | ${cpuVsPlain} | ${row.gcPerRequest.toFixed(1)} | ${counter} | ${row.errors} |`,
  )
}

console.log('\nMedian of the per-round ratios of req/s (each round on its own):\n')
console.log(
  '| framework | workload | Tether / plain | anchor / plain | Tether / anchor | Tether / floor | floor / plain | Tether / stored floor | stored floor / plain |',
)
console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
const ratios: Array<{
  framework: string
  workload: string
  tetherVsPlain: number
  anchorVsPlain: number
  tetherVsAnchor: number
  tetherVsFloor?: number
  floorVsPlain?: number
  tetherVsStoredFloor?: number
  storedFloorVsPlain?: number
}> = []
for (const framework of values.frameworks.split(',')) {
  for (const workload of workloads) {
    const ran = (variant: Variant) => (VARIANTS[workload] as readonly Variant[]).includes(variant)
    const ratio = {
      framework,
      workload,
      tetherVsPlain: roundRatio(framework, workload, 'tether', 'plain'),
      anchorVsPlain: roundRatio(framework, workload, 'anchor', 'plain'),
      tetherVsAnchor: roundRatio(framework, workload, 'tether', 'anchor'),
      ...(ran('floor') && {
        tetherVsFloor: roundRatio(framework, workload, 'tether', 'floor'),
        floorVsPlain: roundRatio(framework, workload, 'floor', 'plain'),
      }),
      ...(ran('stored-floor') && {
        tetherVsStoredFloor: roundRatio(framework, workload, 'tether', 'stored-floor'),
        storedFloorVsPlain: roundRatio(framework, workload, 'stored-floor', 'plain'),
      }),
    }
    ratios.push(ratio)
    const shown = (x: number | undefined) => (x === undefined ? '' : `${x.toFixed(2)}x`)
    console.log(
      `| ${framework} | ${workload} | ${shown(ratio.tetherVsPlain)} | ${shown(ratio.anchorVsPlain)} | ${shown(ratio.tetherVsAnchor)} | ${shown(ratio.tetherVsFloor)} | ${shown(ratio.floorVsPlain)} | ${shown(ratio.tetherVsStoredFloor)} | ${shown(ratio.storedFloorVsPlain)} |`,
    )
  }
}
writeResults(json.file, 'adapters', json.args, {
  settings: { duration, connections, slices, repeat, pinning: pinning() },
  stacks: rows.map((row) => ({
    name: name(row),
    median: row,
    rounds: samples.get(`${row.framework} ${row.workload} ${row.variant}`)!,
  })),
  ratios,
})
