// HTTP throughput of three 2-worker clusters serving the same trivial app, measured with wrk in
// one run: Node's cluster round-robin (no affinity), @socket.io/sticky, and Tether's cookie
// routing; with keep-alive and with a new connection per request (`-H 'Connection: close'`).
//
//   npm run bench:cluster-http [-- <seconds=3> <connections=50> <rounds=3>] [--json <file>]
//   (= node --import tsx --conditions=tether-source bench/cluster-http.ts; BENCH_MODES picks clusters)
//
// Needs wrk (Debian: apt-get install wrk). Each run is short since the machine is shared; the
// clusters take turns for `rounds` rounds and the median of each figure is reported, so that a
// burst of someone else's load does not land on one contender only.
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Keyring } from '@tether/core'
import { issueCookieValue } from '@tether/core/adapter'
import { startClusterServer } from './cluster-server-process.js'
import { jsonArgument, writeResults } from './results.js'

const json = jsonArgument()
const seconds = Number(json.args[0] ?? 3)
const connections = Number(json.args[1] ?? 50)
const rounds = Number(json.args[2] ?? 3)
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url))

interface Result {
  rps: number
  p50: string
  p99: string
  errors: string
}

function wrk(port: number, duration: number, close: boolean, cookies: string[]): Result {
  const args = ['-t2', `-c${connections}`, `-d${duration}s`, '--latency', '-s', here('./cluster-wrk.lua')]
  if (close) args.push('-H', 'Connection: close')
  args.push(`http://127.0.0.1:${port}/`)
  const out = execFileSync('wrk', args, {
    env: { ...process.env, BENCH_COOKIES: cookies.join('|') },
    encoding: 'utf8',
  })
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0)
  const p50 = /\s50%\s+(\S+)/.exec(out)?.[1] ?? '?'
  const p99 = /\s99%\s+(\S+)/.exec(out)?.[1] ?? '?'
  const socketErrors = /Socket errors: (.*)/.exec(out)?.[1]
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1]
  const errors = [socketErrors, non2xx && `non-2xx ${non2xx}`].filter(Boolean).join('; ') || 'none'
  return { rps, p50, p99, errors }
}

// Two sessions, one per worker: Tether routes each wrk thread's connections to its owner.
const keyring = new Keyring('bench-secret-bench-secret-bench-secret!')
const cookies = ['w0', 'w1'].map((route) => `tether.sid=${issueCookieValue(route, keyring).value}`)

const modes = (process.env.BENCH_MODES ?? 'node-cluster,socket-io-sticky,tether').split(',')
const runs = new Map<string, Array<{ keepAlive: Result; close: Result }>>(modes.map((m) => [m, []]))
for (let round = 0; round < rounds; round++) {
  for (const mode of modes) {
    const { child, port } = await startClusterServer(mode)
    try {
      // Each workload gets a warm-up of its own: a new connection per request runs code (the
      // primary's accept and hand-off) that keep-alive barely touches.
      wrk(port, 1, false, cookies)
      const keepAlive = wrk(port, seconds, false, cookies)
      wrk(port, 1, true, cookies)
      const close = wrk(port, seconds, true, cookies)
      runs.get(mode)!.push({ keepAlive, close })
    } finally {
      child.kill('SIGTERM')
      await new Promise((resolve) => child.once('exit', resolve))
    }
  }
}
/** The run with the median requests/second (its latencies and errors come along). */
const median = (results: Result[]): Result =>
  [...results].sort((a, b) => a.rps - b.rps)[Math.floor(results.length / 2)]!
const results = new Map(
  [...runs].map(([mode, r]) => [
    mode,
    { keepAlive: median(r.map((x) => x.keepAlive)), close: median(r.map((x) => x.close)) },
  ]),
)
for (const [mode, all] of runs) {
  const spread = (pick: (x: { keepAlive: Result; close: Result }) => Result) =>
    all.map((x) => `${(pick(x).rps / 1000).toFixed(1)}k`).join(', ')
  console.error(
    `${mode}: keep-alive runs ${spread((x) => x.keepAlive)}; new-connection runs ${spread((x) => x.close)}`,
  )
}
const base = results.get('node-cluster')!
const fmt = (n: number) => `${(n / 1000).toFixed(1)}k/s`
console.log(
  `wrk -t2 -c${connections} -d${seconds}s, 2 workers, median of ${rounds} rounds, Node ${process.version}\n`,
)
console.log(
  '| cluster | keep-alive req/s | p50 / p99 | vs node cluster | new connection req/s | p50 / p99 | vs node cluster | errors (keep-alive; new conn.) |',
)
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |')
for (const [mode, r] of results) {
  console.log(
    `| ${mode} | ${fmt(r.keepAlive.rps)} | ${r.keepAlive.p50} / ${r.keepAlive.p99} | ${(r.keepAlive.rps / base.keepAlive.rps).toFixed(2)}x | ` +
      `${fmt(r.close.rps)} | ${r.close.p50} / ${r.close.p99} | ${(r.close.rps / base.close.rps).toFixed(2)}x | ${r.keepAlive.errors}; ${r.close.errors} |`,
  )
}

// Each round runs the clusters one after the other, seconds apart: the ratio within a round is
// steadier than the ratio of the medians when the machine's speed drifts between rounds.
const baseRuns = runs.get('node-cluster')
const perRound = (mode: string, pick: (x: { keepAlive: Result; close: Result }) => Result) =>
  runs.get(mode)!.map((x, i) => pick(x).rps / pick(baseRuns![i]!).rps)
const middle = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const ratios = [...runs.keys()]
  .filter((mode) => baseRuns !== undefined && mode !== 'node-cluster')
  .map((mode) => ({
    mode,
    keepAlive: perRound(mode, (x) => x.keepAlive),
    close: perRound(mode, (x) => x.close),
  }))
if (ratios.length > 0) {
  console.log('\nMedian of the per-round ratios of req/s to node cluster (each round on its own):\n')
  console.log('| cluster | keep-alive | each round | new connection | each round |')
  console.log('| --- | ---: | --- | ---: | --- |')
  const list = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(', ')
  for (const r of ratios) {
    console.log(
      `| ${r.mode} | ${middle(r.keepAlive).toFixed(2)}x | ${list(r.keepAlive)} | ${middle(r.close).toFixed(2)}x | ${list(r.close)} |`,
    )
  }
}
writeResults(json.file, 'cluster-http', json.args, {
  settings: { seconds, connections, rounds, workers: 2, wrkThreads: 2 },
  clusters: [...results].map(([mode, median]) => ({ mode, median, rounds: runs.get(mode)! })),
  vsNodeCluster: ratios.map((r) => ({
    mode: r.mode,
    keepAlive: middle(r.keepAlive),
    close: middle(r.close),
    rounds: { keepAlive: r.keepAlive, close: r.close },
  })),
})
