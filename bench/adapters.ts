// Adapters benchmark (issue 3): the same two workloads on express + @tether/express vs
// express + express-session vs plain express, and fastify + @tether/fastify vs
// fastify + @fastify/session vs plain fastify, side by side in one run, with autocannon.
//   counter: GET /count with one kept cookie on every connection (load, increment, save);
//            afterwards the counter is compared with the number of 2xx answers.
//   create:  GET /new without a cookie: every request creates and stores a new session.
// Each target runs in its own child process; autocannon runs here.
// Usage: node --import tsx bench/adapters.ts [--duration 5] [--connections 50] [--repeat 1]
//   [--frameworks express,fastify] [--workloads counter,create]
// (after building the packages; add --conditions=tether-source to run the TypeScript sources).
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { startTarget, stopTarget } from './adapter-target.js'

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '50' },
    frameworks: { type: 'string', default: 'express,fastify' },
    workloads: { type: 'string', default: 'counter,create' },
    // Rounds over the whole matrix, each in a rotated order; the table shows medians. On a shared
    // machine this evens out load that comes and goes during one case.
    repeat: { type: 'string', default: '1' },
  },
})
const repeat = Number(values.repeat)
const duration = Number(values.duration)
const connections = Number(values.connections)
const workloads = values.workloads.split(',') as Row['workload'][]
for (const w of workloads) {
  if (w !== 'counter' && w !== 'create')
    throw new Error(`--workloads: unknown workload "${w}" (counter, create)`)
}

type Variant = 'plain' | 'tether' | 'anchor'
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
  errors: number
  /** Increments that reached the store during the measured run. */
  counted?: number
}

interface Stats {
  count: number
  handled: number
  cpuMicros: number
}

async function run(framework: string, workload: Row['workload'], variant: Variant): Promise<Row> {
  const { url, child } = await startTarget(framework, variant)
  try {
    const headers: Record<string, string> = {}
    if (workload === 'counter') {
      const first = await fetch(`${url}/count`)
      const cookie = first.headers.getSetCookie()[0]?.split(';')[0]
      if (cookie !== undefined) headers.cookie = cookie
    }
    const path = workload === 'counter' ? '/count' : '/new'
    // Short warm-up so JIT and pools settle, then the measured run.
    await autocannon({ url: `${url}${path}`, connections, duration: 1, headers })
    await settle()
    const before = await peek(url, headers)
    const result = await autocannon({ url: `${url}${path}`, connections, duration, headers })
    await settle()
    const after = await peek(url, headers)
    const handled = after.handled - before.handled
    const row: Row = {
      framework,
      workload,
      variant,
      rps: result.requests.average,
      p99: result.latency.p99,
      handled,
      cpuPerRequest: (after.cpuMicros - before.cpuMicros) / handled,
      errors: result.errors + result.non2xx + result.timeouts,
    }
    if (workload === 'counter') row.counted = after.count - before.count
    return row
  } finally {
    await stopTarget(child)
  }
}

/** Lets requests still in flight when autocannon stops reach the server and finish. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 300))

async function peek(url: string, headers: Record<string, string>): Promise<Stats> {
  const res = await fetch(`${url}/peek`, { headers })
  return (await res.json()) as Stats
}

const VARIANTS = ['plain', 'tether', 'anchor'] as const
const samples = new Map<string, Row[]>()
for (let round = 0; round < repeat; round++) {
  for (const framework of values.frameworks.split(',')) {
    for (const workload of workloads) {
      for (let i = 0; i < VARIANTS.length; i++) {
        const variant = VARIANTS[(i + round) % VARIANTS.length]!
        const row = await run(framework, workload, variant)
        const key = `${framework} ${workload} ${variant}`
        samples.set(key, [...(samples.get(key) ?? []), row])
        console.error(`round ${round + 1}: ${key}: ${row.rps.toFixed(0)} req/s`)
      }
    }
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0)
const rows: Row[] = [...samples.values()].map((runs) => {
  const row: Row = {
    ...runs[0]!,
    rps: median(runs.map((r) => r.rps)),
    p99: median(runs.map((r) => r.p99)),
    cpuPerRequest: median(runs.map((r) => r.cpuPerRequest)),
    handled: sum(runs.map((r) => r.handled)),
    errors: sum(runs.map((r) => r.errors)),
  }
  if (runs[0]!.counted !== undefined) row.counted = sum(runs.map((r) => r.counted!))
  return row
})

/**
 * The median over rounds of Tether's req/s divided by another stack's, each round on its own:
 * steadier than the ratio of medians when the machine's speed drifts between rounds.
 */
const roundRatio = (framework: string, workload: string, other: Variant): number => {
  const tether = samples.get(`${framework} ${workload} tether`)!
  const them = samples.get(`${framework} ${workload} ${other}`)!
  return median(tether.map((row, round) => row.rps / them[round]!.rps))
}

const fmt = (n: number) => (n >= 1000 ? `${(n / 1000).toFixed(1)}k` : n.toFixed(0))
const name = (row: Row) =>
  row.variant === 'plain'
    ? `plain ${row.framework}`
    : `${row.framework} + ${row.variant === 'tether' ? TETHER[row.framework as 'express'] : ANCHOR[row.framework as 'express']}`
console.log(
  `\n${duration} s per case, ${connections} connections, ${repeat} round(s) (medians), Node.js ${process.version}\n`,
)
console.log(
  '| workload | stack | req/s | p99 ms | req/s vs plain | req/s vs anchor | server CPU µs/req | CPU vs plain | counter kept | errors |',
)
console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |')
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
    `| ${row.workload} | ${name(row)} | ${fmt(row.rps)} | ${row.p99} | ${vsPlain} | ${vsAnchor} | ${row.cpuPerRequest.toFixed(0)} | ${cpuVsPlain} | ${counter} | ${row.errors} |`,
  )
}

console.log('\nMedian of the per-round ratios (Tether / other, each round on its own):\n')
console.log('| framework | workload | Tether / plain | Tether / anchor |')
console.log('| --- | --- | ---: | ---: |')
for (const framework of values.frameworks.split(',')) {
  for (const workload of workloads) {
    console.log(
      `| ${framework} | ${workload} | ${roundRatio(framework, workload, 'plain').toFixed(2)}x | ${roundRatio(framework, workload, 'anchor').toFixed(2)}x |`,
    )
  }
}
