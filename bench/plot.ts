// Draws the plots of bench/README.md from the results files the benches write with --json:
//   bench/results/adapters.json      -> bench/plots/adapters.svg      (req/s relative to the plain framework)
//   bench/results/cluster-http.json  -> bench/plots/cluster-http.svg  (keep-alive and new-connection req/s
//                                                                      relative to node:cluster)
// Run: npm run bench:plot [-- --results bench/results --out bench/plots]
// Hand-written SVG (bench/svg-chart.ts): no dependencies, nothing fetched.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { ResultsHeader } from './results.js'
import { type Bar, type BarGroup, barChart } from './svg-chart.js'

const here = fileURLToPath(new URL('.', import.meta.url))
const { values } = parseArgs({
  options: {
    results: { type: 'string', default: join(here, 'results') },
    out: { type: 'string', default: join(here, 'plots') },
  },
})

const COLORS = {
  plain: '#9ca3af',
  floor: '#6b7280',
  'stored-floor': '#4b5563',
  tether: '#2563eb',
  anchor: '#f59e0b',
} as const

interface AdapterRound {
  framework: string
  workload: string
  variant: keyof typeof COLORS
  rps: number
}
interface AdaptersResults extends ResultsHeader {
  settings: { duration: number; connections: number; slices: number; repeat: number }
  stacks: Array<{ name: string; median: AdapterRound; rounds: AdapterRound[] }>
}

interface WrkResult {
  rps: number
}
interface ClusterHttpResults extends ResultsHeader {
  settings: { seconds: number; connections: number; rounds: number; workers: number }
  clusters: Array<{
    mode: string
    median: { keepAlive: WrkResult; close: WrkResult }
    rounds: Array<{ keepAlive: WrkResult; close: WrkResult }>
  }>
  /** Medians of the per-round ratios of req/s to node:cluster, and the ratios of each round. */
  vsNodeCluster: Array<{
    mode: string
    keepAlive: number
    close: number
    rounds: { keepAlive: number[]; close: number[] }
  }>
}

const read = <T>(name: string): T => JSON.parse(readFileSync(join(values.results, name), 'utf8')) as T

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const day = (iso: string) => iso.slice(0, 10)
const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`
const machineLine = (r: ResultsHeader) =>
  `${r.machine.cpus} cores (${r.machine.model}), Node.js ${r.machine.node}, load average ${r.machine.loadAverage.start.toFixed(1)} at the start, ${r.machine.loadAverage.end.toFixed(1)} at the end; shared with other work`
const commandLine = (r: ResultsHeader, script: string) =>
  `npm run ${script}${r.command.length > 1 ? ` -- ${r.command.slice(1).join(' ')}` : ''}, ${day(r.date)}`

/** req/s of every stack relative to the plain framework, round by round; bars are the medians. */
function adaptersChart(r: AdaptersResults): string {
  const WORKLOAD = {
    counter: 'counter (one kept cookie, load + increment + save)',
    create: 'a new session per request',
  }
  const frameworks = [...new Set(r.stacks.map((s) => s.median.framework))]
  const panels = frameworks.map((framework) => {
    const groups: BarGroup[] = []
    for (const workload of ['counter', 'create'] as const) {
      const stacks = r.stacks.filter(
        (s) => s.median.framework === framework && s.median.workload === workload,
      )
      const plain = stacks.find((s) => s.median.variant === 'plain')
      if (plain === undefined) continue
      const bars: Bar[] = stacks.map((s) => {
        const ratios = s.rounds.map((round, i) => round.rps / plain.rounds[i]!.rps)
        // The plain framework is 1.00x in every round by definition: no dots.
        const rounds = s.median.variant === 'plain' ? [] : ratios
        const value = median(ratios)
        return { label: s.name, value, rounds, color: COLORS[s.median.variant], text: `${value.toFixed(2)}x` }
      })
      groups.push({ label: WORKLOAD[workload], bars })
    }
    return {
      title: framework === 'express' ? 'Express 5' : framework === 'fastify' ? 'Fastify 5' : framework,
      axisLabel: `req/s relative to plain ${framework} in the same round`,
      format: (t: number) => (t === 0 ? '0' : `${t.toFixed(2)}x`),
      groups,
      reference: 1,
    }
  })
  const { duration, slices, connections, repeat } = r.settings
  return barChart({
    title: 'Throughput relative to the plain framework',
    subtitle: [
      `${connections} connections (autocannon), ${duration} s per stack in ${plural(slices, 'alternating turn')}, ${plural(repeat, 'round')}`,
      "bar: median of the rounds' ratios; dots: each round",
    ],
    legend: [
      { label: 'plain framework', color: COLORS.plain },
      { label: 'floor (plain + Set-Cookie)', color: COLORS.floor },
      { label: 'stored floor (+ a Map of sessions)', color: COLORS['stored-floor'] },
      { label: 'Tether', color: COLORS.tether },
      { label: 'express-session / @fastify/session', color: COLORS.anchor },
    ],
    panels,
    footer: [commandLine(r, 'bench:adapters'), machineLine(r)],
  })
}

/**
 * Keep-alive and new-connection req/s of each 2-worker cluster relative to node:cluster, round by
 * round (the clusters take turns within a round); bars are the medians, labels add the req/s of
 * the median round.
 */
function clusterChart(r: ClusterHttpResults): string {
  const NAMES: Record<string, string> = {
    'node-cluster': 'node:cluster (round-robin)',
    'socket-io-sticky': '@socket.io/sticky',
    tether: 'Tether',
  }
  const COLOR: Record<string, string> = {
    'node-cluster': COLORS.plain,
    'socket-io-sticky': COLORS.anchor,
    tether: COLORS.tether,
  }
  const rate = (n: number) => `${(n / 1000).toFixed(n >= 10_000 ? 0 : 1)}k/s`
  type Workload = 'keepAlive' | 'close'
  const panelOf = (title: string, workload: Workload) => ({
    title,
    axisLabel: 'req/s relative to node:cluster in the same round',
    format: (t: number) => (t === 0 ? '0' : `${t.toFixed(2)}x`),
    reference: 1,
    groups: [
      {
        bars: r.clusters.map((c) => {
          const vs = r.vsNodeCluster.find((v) => v.mode === c.mode)
          // node:cluster is 1.00x in every round by definition: no dots.
          const value = vs?.[workload] ?? 1
          return {
            label: NAMES[c.mode] ?? c.mode,
            value,
            rounds: vs?.rounds[workload] ?? [],
            color: COLOR[c.mode] ?? COLORS.tether,
            text: `${value.toFixed(2)}x  (${rate(c.median[workload].rps)})`,
          }
        }),
      },
    ],
  })
  const { seconds, connections, rounds, workers } = r.settings
  return barChart({
    title: 'HTTP through the cluster primary',
    subtitle: [
      `${workers} workers, a trivial app, wrk -t2 -c${connections} -d${seconds}s, ${plural(rounds, 'round')}; the clusters take turns in each round`,
      "bar: median of the rounds' ratios; dots: each round; in brackets: req/s of the median round",
    ],
    panels: [
      panelOf('Keep-alive (the primary routes each connection once)', 'keepAlive'),
      panelOf("A new connection per request ('Connection: close')", 'close'),
    ],
    footer: [commandLine(r, 'bench:cluster-http'), machineLine(r)],
  })
}

mkdirSync(values.out, { recursive: true })
const plots: Array<[string, string]> = [
  ['adapters.svg', adaptersChart(read<AdaptersResults>('adapters.json'))],
  ['cluster-http.svg', clusterChart(read<ClusterHttpResults>('cluster-http.json'))],
]
for (const [file, svg] of plots) {
  writeFileSync(join(values.out, file), svg)
  console.log(join(values.out, file))
}
