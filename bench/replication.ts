// Session replication's cost: the counter workload (every request writes its session) through a
// 4-worker cluster with `replication` off, 'async' and 'sync', measured with wrk in one run, the
// three taking turns for `rounds` rounds; the median of the per-round ratios to "off" is
// reported. While 'async' runs, the primary's `replication.lagMs` (the age of the oldest change a
// backup has not acknowledged: what a crash at that moment would lose) is sampled every 50 ms.
// The CPU time of the primary and of the workers per request (user + system, from /proc on Linux)
// is reported too: on a shared machine, where req/s is whatever CPU is left, it says more.
//
//   npm run bench:replication -- [seconds=3] [connections=32] [rounds=5] [--json file]
//
// Needs wrk (Debian: apt-get install wrk).
import { type ChildProcess, execFile, fork } from 'node:child_process'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import { fileURLToPath } from 'node:url'
import { jsonArgument, writeResults } from './results.js'

const json = jsonArgument()
const seconds = Number(json.args[0] ?? 3)
const connections = Number(json.args[1] ?? 32)
const rounds = Number(json.args[2] ?? 5)
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url))
const MODES = ['off', 'async', 'sync'] as const
type Mode = (typeof MODES)[number]

interface Server {
  child: ChildProcess
  port: number
  metrics(): Promise<{
    replication: { lagMs: number; sent: number; acknowledged: number; dropped: number }
    slots: Array<{ pid?: number }>
  }>
}

/** utime + stime of a process in µs (clock ticks of 1/100 s on Linux); 0 where /proc is missing. */
function cpuMicros(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 10_000
  } catch {
    return 0
  }
}

async function startServer(mode: Mode): Promise<Server> {
  const child = fork(here('./replication-server.ts'), [mode], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  })
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve(m.port))
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)))
  })
  const metrics = () =>
    new Promise<never>((resolve) => {
      const onMessage = (m: { metrics?: never }) => {
        if (m.metrics === undefined) return
        child.off('message', onMessage)
        resolve(m.metrics)
      }
      child.on('message', onMessage)
      child.send('metrics')
    })
  return { child, port, metrics }
}

async function stop(server: Server): Promise<void> {
  const exited = new Promise((resolve) => server.child.once('exit', resolve))
  server.child.send('close')
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(timer)
}

/** One session per worker (first visits rotate over the workers), as Cookie headers. */
async function sessionsOnEachWorker(port: number): Promise<string[]> {
  const byRoute = new Map<string, string>()
  for (let i = 0; i < 40 && byRoute.size < 4; i++) {
    const { route, cookie } = await new Promise<{ route: string; cookie: string }>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
          let body = ''
          res.on('data', (c) => {
            body += c
          })
          res.on('end', () =>
            resolve({
              route: JSON.parse(body).route,
              cookie: String(res.headers['set-cookie']?.[0]).split(';')[0]!,
            }),
          )
        })
        .on('error', reject)
    })
    if (!byRoute.has(route)) byRoute.set(route, cookie)
  }
  return [...byRoute.values()]
}

/** Runs wrk without blocking this process, so the lag can be sampled meanwhile. */
async function wrk(port: number, duration: number, cookies: string[]): Promise<number> {
  const args = ['-t4', `-c${connections}`, `-d${duration}s`, '-s', here('./cluster-wrk.lua')]
  const out = await new Promise<string>((resolve, reject) =>
    execFile(
      'wrk',
      [...args, `http://127.0.0.1:${port}/`],
      { env: { ...process.env, BENCH_COOKIES: cookies.join('|') }, encoding: 'utf8' },
      (error, stdout) => (error === null ? resolve(stdout) : reject(error)),
    ),
  )
  if (/Non-2xx|Socket errors/.test(out)) throw new Error(`wrk saw errors:\n${out}`)
  return Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0)
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const rps = new Map<Mode, number[]>(MODES.map((m) => [m, []]))
/** CPU µs per request of the primary and of the workers together, per round. */
const cpu = new Map<Mode, Array<{ primary: number; workers: number }>>(MODES.map((m) => [m, []]))
const lags: number[] = []
let copied = { sent: 0, acknowledged: 0, dropped: 0 }
for (let round = 0; round < rounds; round++) {
  for (const mode of MODES) {
    const server = await startServer(mode)
    try {
      const cookies = await sessionsOnEachWorker(server.port)
      await wrk(server.port, 1, cookies)
      let sampling = mode === 'async'
      const sampler = (async () => {
        while (sampling) {
          lags.push((await server.metrics()).replication.lagMs)
          await new Promise((resolve) => setTimeout(resolve, 50))
        }
      })()
      const workers = (await server.metrics()).slots.flatMap((slot) => slot.pid ?? [])
      const before = { primary: cpuMicros(server.child.pid!), workers: workers.map(cpuMicros) }
      const rate = await wrk(server.port, seconds, cookies)
      const requests = rate * seconds
      cpu.get(mode)!.push({
        primary: (cpuMicros(server.child.pid!) - before.primary) / requests,
        workers: workers.reduce((sum, pid, i) => sum + cpuMicros(pid) - before.workers[i]!, 0) / requests,
      })
      rps.get(mode)!.push(rate)
      sampling = false
      await sampler
      if (mode === 'sync') copied = (await server.metrics()).replication
    } finally {
      await stop(server)
    }
  }
}
const off = rps.get('off')!
const ratio = (mode: Mode) => median(rps.get(mode)!.map((r, i) => r / off[i]!))
console.log(`counter workload, 4 workers, wrk -t4 -c${connections} -d${seconds}s, ${rounds} rounds (median)`)
const cpuOf = (mode: Mode) => ({
  primary: median(cpu.get(mode)!.map((c) => c.primary)),
  workers: median(cpu.get(mode)!.map((c) => c.workers)),
})
console.log(
  '| replication | requests/s | vs off | vs off, each round | primary CPU µs/request | workers CPU µs/request |',
)
console.log('| ----------- | ---------: | -----: | --- | ---: | ---: |')
for (const mode of MODES) {
  const each = rps
    .get(mode)!
    .map((r, i) => (r / off[i]!).toFixed(2))
    .join(', ')
  const vsOff = mode === 'off' ? '1.00x' : `${ratio(mode).toFixed(2)}x`
  const { primary, workers } = cpuOf(mode)
  console.log(
    `| ${mode} | ${median(rps.get(mode)!).toFixed(0)} | ${vsOff} | ${each} | ${primary.toFixed(1)} | ${workers.toFixed(1)} |`,
  )
}
const sorted = [...lags].sort((a, b) => a - b)
const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0
console.log(
  `async lag (oldest unacknowledged change), ${lags.length} samples: median ${pct(0.5)} ms, p99 ${pct(0.99)} ms, max ${pct(1)} ms`,
)
console.log(
  `sync, last round: ${copied.sent} changes sent, ${copied.acknowledged} acknowledged, ${copied.dropped} dropped`,
)
writeResults(json.file, 'replication', json.args, {
  seconds,
  connections,
  rounds,
  rps: Object.fromEntries(rps),
  ratios: { async: ratio('async'), sync: ratio('sync') },
  cpuMicrosPerRequest: Object.fromEntries(MODES.map((mode) => [mode, cpuOf(mode)])),
  asyncLagMs: { samples: lags.length, median: pct(0.5), p99: pct(0.99), max: pct(1) },
  syncLastRound: copied,
})
