// CPU time per new connection, primary and workers apart: node:cluster round-robin vs Tether's
// cookie routing, 1 worker, `wrk -t1 -c10 -d3s -H 'Connection: close'`. CPU time, read from
// /proc (Linux), says more than req/s on a shared machine, where throughput is whatever CPU is left.
//
//   npm run bench:cluster-cpu [-- <rounds=3>] [--json <file>]
//   (= node --import tsx --conditions=tether-source bench/cluster-cpu.ts)
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { startClusterServer } from './cluster-server-process.js'
import { jsonArgument, writeResults } from './results.js'

const json = jsonArgument()
const rounds = Number(json.args[0] ?? 3)
const COOKIE = `tether.sid=${'A'.repeat(43)}.w0.${'A'.repeat(22)}`

/** utime + stime of a process, in clock ticks (1/100 s on Linux). */
function ticks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return Number(fields[11]) + Number(fields[12])
}

function childrenOf(pid: number): number[] {
  const found: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const ppid = Number(readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]!.split(' ')[1])
      if (ppid === pid) found.push(Number(entry))
    } catch {
      // exited meanwhile
    }
  }
  return found
}

async function measure(mode: string): Promise<{ rps: number; primary: number; workers: number }> {
  const { child, port } = await startClusterServer(mode, { BENCH_WORKERS: '1' })
  try {
    const workers = childrenOf(child.pid!)
    const before = [ticks(child.pid!), workers.reduce((sum, pid) => sum + ticks(pid), 0)]
    const out = execFileSync(
      'wrk',
      [
        '-t1',
        '-c10',
        '-d3s',
        '-H',
        'Connection: close',
        '-H',
        `Cookie: ${COOKIE}`,
        `http://127.0.0.1:${port}/`,
      ],
      { encoding: 'utf8' },
    )
    const after = [ticks(child.pid!), workers.reduce((sum, pid) => sum + ticks(pid), 0)]
    const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0)
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0)
    const usPerRequest = (t: number) => (t * 10_000) / requests
    return {
      rps,
      primary: usPerRequest(after[0]! - before[0]!),
      workers: usPerRequest(after[1]! - before[1]!),
    }
  } finally {
    child.kill('SIGTERM')
    await new Promise((resolve) => child.once('exit', resolve))
  }
}

const results = new Map<string, Array<{ rps: number; primary: number; workers: number }>>()
for (let round = 0; round < rounds; round++) {
  for (const mode of ['node-cluster', 'tether']) {
    const list = results.get(mode) ?? []
    list.push(await measure(mode))
    results.set(mode, list)
  }
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
console.log(
  `1 worker, wrk -t1 -c10 -d3s -H 'Connection: close', median of ${rounds} rounds, Node ${process.version}\n`,
)
console.log('| cluster | req/s | primary CPU µs/request | worker CPU µs/request |')
console.log('| --- | --- | --- | --- |')
for (const [mode, list] of results) {
  const f = (pick: (x: { rps: number; primary: number; workers: number }) => number) =>
    median(list.map(pick)).toFixed(0)
  console.log(`| ${mode} | ${f((x) => x.rps)} | ${f((x) => x.primary)} | ${f((x) => x.workers)} |`)
}
writeResults(json.file, 'cluster-cpu', json.args, {
  settings: { rounds, workers: 1, wrk: '-t1 -c10 -d3s' },
  clusters: [...results].map(([mode, list]) => ({
    mode,
    median: {
      rps: median(list.map((x) => x.rps)),
      primary: median(list.map((x) => x.primary)),
      workers: median(list.map((x) => x.workers)),
    },
    rounds: list,
  })),
})
