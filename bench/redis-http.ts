// HTTP benchmarks of the Redis stores, every stack side by side in one run, each app in
// a child process of its own (bench/redis-app.ts) against one redis-server started for the run.
// Run: npm run bench:redis-http [-- <seconds per run, default 2> <rounds, default 2>] [--json <file>]
//   (= node --import tsx --conditions=tether-source bench/redis-http.ts)
// Workloads (BENCH_WORKLOADS): count (one cookie, all connections), read (1000 one-key sessions),
// profile (1000 signed-in sessions of seven keys, two of them read), new (no cookie).
// The *-floor-redis stacks run the new-session workload only: a random id, one SET with an expiry
// and one Set-Cookie per request, the least any Redis-backed session can do for a new visitor.
// The *-tether-redis-clear stacks (new sessions only) are Tether's RedisStore with encryption at
// rest off, values kept as JSON text as connect-redis keeps them: the price of encryption, apart.
// Besides the app's CPU per request, redis-server's is shown: the store's side of each workload.
// The *-plain-get stacks are the plain apps with one Redis GET per request (no session): plain /
// plain-get is the most that saving a RedisStore read's round trip (a HybridStore hit) can gain.
// The read workloads are driven by wrk (Debian: apt-get install wrk) with a cookie picked at random
// per request: autocannon's per-request hook cost more CPU than the apps under test, so it, not
// the app, set the pace of that workload.
import { type ChildProcess, execFileSync, fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { parseCommandStats, redisCli, startRedisServer } from '../test/support/redis-server.js'
import { stopAllServices } from '../test/support/services.js'
import { onLoadCpu, pinLoadGenerator, pinning, pinServer } from './cpu-pinning.js'
import { INSIDE_SCRIPTS, redisCpuMicros } from './redis-commands.js'
import { RATIOS } from './redis-http-ratios.js'
import { jsonArgument, writeResults } from './results.js'

const json = jsonArgument()
const seconds = Number(json.args[0] ?? 2)
const ROUNDS = Number(json.args[1] ?? 2)
// BENCH_CONNECTIONS=1 measures one request at a time (latency without queueing).
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50)

const redis = await startRedisServer()
// BENCH_PIN=1 keeps the load generators and the apps on separate CPUs (see cpu-pinning.ts); Redis,
// started before, stays unpinned.
pinLoadGenerator()

interface App {
  stack: string
  child: ChildProcess
  base: string
  /** The counter's cookie, and the requests sent with it so far (+1 for the one that made it). */
  cookie?: string | undefined
  counted: number
  /** 1000 sessions for the read workload. */
  cookies: string[]
  /** 1000 signed-in sessions (seven keys each) for the profile workload. */
  signedIn: string[]
}

async function startApp(stack: string): Promise<App> {
  const child = fork(fileURLToPath(new URL('./redis-app.ts', import.meta.url)), {
    execArgv: ['--import', 'tsx', '--conditions', 'tether-source'],
    env: { ...process.env, BENCH_APP: stack, BENCH_REDIS_URL: redis.url, NODE_ENV: 'production' },
  })
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve(m.port))
    child.once('exit', (code) => reject(new Error(`${stack} exited with ${code}`)))
  })
  pinServer(child.pid)
  return { stack, child, base: `http://127.0.0.1:${port}`, counted: 0, cookies: [], signedIn: [] }
}

async function stopApp(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
}

function appCpu(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    const onMessage = (m: { cpu?: NodeJS.CpuUsage }) => {
      if (m.cpu === undefined) return
      child.removeListener('message', onMessage)
      resolve(m.cpu.user + m.cpu.system)
    }
    child.on('message', onMessage)
    child.send({ cpu: true })
  })
}

interface Run {
  /** Requests sent (answered or still in flight when the run ended). */
  sent: number
  rps: number
  ok: number
  errors: number
  /** Redis round trips (top-level commands) per request. */
  roundTrips: number
  /** All commands Redis executed per request, those inside scripts included. */
  commands: number
  /** CPU time of the app process per request, in µs. */
  cpuUs: number
  /** CPU time of redis-server per request, in µs: the store's side of the work. */
  redisCpuUs: number
  /** Mean latency in ms (wrk workloads only). */
  latencyMs: number | undefined
}

interface ClientResult {
  /** Requests sent, answered or still in flight when the run ended. */
  sent: number
  /** Requests answered. */
  answered: number
  rps: number
  ok: number
  errors: number
  latencyMs?: number | undefined
}

const scratch = mkdtempSync(join(tmpdir(), 'tether-bench-'))

/** wrk on `path`, each request with one of `cookies` picked at random. */
function wrkRandomCookies(app: App, path: string, cookies: string[]): ClientResult {
  const file = join(scratch, `${app.stack}.cookies`)
  writeFileSync(file, `${cookies.join('\n')}\n`)
  const script = fileURLToPath(new URL('./random-cookie.lua', import.meta.url))
  const [command, args] = onLoadCpu('wrk', [
    '-t1',
    `-c${connections}`,
    `-d${seconds}s`,
    '-s',
    script,
    `${app.base}${path}`,
  ])
  const out = execFileSync(command, args, {
    env: { ...process.env, BENCH_COOKIE_FILE: file, BENCH_PATH: path },
    encoding: 'utf8',
  })
  const sent = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0)
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0)
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)
  const errors = non2xx + (socketErrors ? socketErrors.slice(1).reduce((a, b) => a + Number(b), 0) : 0)
  // wrk counts answered requests only.
  const latency = /Latency\s+([\d.]+)(us|ms|s)\b/.exec(out)
  const unit = { us: 0.001, ms: 1, s: 1000 }
  return {
    latencyMs: latency === null ? undefined : Number(latency[1]) * unit[latency[2] as keyof typeof unit],
    sent,
    answered: sent,
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
    ok: sent - non2xx,
    errors,
  }
}

async function autocannonOneCookie(
  app: App,
  path: string,
  cookie: string | undefined,
): Promise<ClientResult> {
  const result = await autocannon({
    url: `${app.base}${path}`,
    connections,
    duration: seconds,
    headers: cookie === undefined ? {} : { cookie },
  })
  return {
    sent: result.requests.sent,
    answered: result['2xx'] + result.non2xx,
    rps: result.requests.average,
    ok: result['2xx'],
    errors: result.non2xx + result.errors + result.timeouts,
  }
}

/** Load on `path` with one cookie (or none), or a random one of `cookie` (an array) per request. */
async function load(app: App, path: string, cookie: string | string[] | undefined): Promise<Run> {
  await redisCli(redis, 'CONFIG', 'RESETSTAT')
  const redisCpuBefore = await redisCpuMicros(redis)
  const cpuBefore = await appCpu(app.child)
  const result = Array.isArray(cookie)
    ? wrkRandomCookies(app, path, cookie)
    : await autocannonOneCookie(app, path, cookie)
  const cpu = (await appCpu(app.child)) - cpuBefore
  const redisMicros = (await redisCpuMicros(redis)) - redisCpuBefore
  const stats = parseCommandStats(await redisCli(redis, 'INFO', 'commandstats'))
  delete stats.info
  let all = 0
  let top = 0
  for (const [name, calls] of Object.entries(stats)) {
    all += calls
    if (!INSIDE_SCRIPTS.has(name)) top += calls
  }
  const done = Math.max(1, result.answered)
  return {
    sent: result.sent,
    rps: result.rps,
    ok: result.ok,
    errors: result.errors,
    roundTrips: top / done,
    commands: all / done,
    cpuUs: cpu / done,
    redisCpuUs: redisMicros / done,
    latencyMs: result.latencyMs,
  }
}

async function firstCookie(base: string, path = '/count'): Promise<string | undefined> {
  const res = await fetch(`${base}${path}`)
  const set = res.headers.get('set-cookie')
  return set === null ? undefined : set.split(';')[0]
}

async function readCount(base: string, cookie: string | undefined): Promise<number> {
  const res = await fetch(`${base}/read`, { headers: cookie === undefined ? {} : { cookie } })
  return ((await res.json()) as { count: number }).count
}

const ALL_STACKS = [
  'express-plain',
  'express-tether-redis',
  'express-tether-hybrid',
  'express-session-connect-redis',
  'express-floor-redis',
  'express-tether-redis-clear',
  'express-plain-get',
  'fastify-plain',
  'fastify-tether-redis',
  'fastify-tether-hybrid',
  'fastify-session-connect-redis',
  'fastify-floor-redis',
  'fastify-tether-redis-clear',
  'fastify-plain-get',
]
const isFloor = (stack: string) => stack.endsWith('floor-redis')
/** Stacks that only run the new-session workload: the floors, and Tether with encryption off. */
const newOnly = (stack: string) => isFloor(stack) || stack.endsWith('-redis-clear')
/** An app without sessions: plain, or plain with one Redis GET per request. */
const isPlain = (stack: string) => stack.endsWith('plain') || stack.endsWith('plain-get')
type Workload = 'count' | 'read' | 'profile' | 'new'
const label: Record<Workload, string> = {
  count: `counter, one cookie (${connections} connections)`,
  read: 'read, 1000 sessions',
  profile: 'read, 1000 signed-in sessions (7 keys)',
  new: 'new session per request',
}
const ALL_WORKLOADS: Workload[] = ['count', 'read', 'profile', 'new']
// BENCH_WORKLOADS=read,profile runs a subset of the workloads.
const workloads = (process.env.BENCH_WORKLOADS?.split(',') ?? ALL_WORKLOADS) as Workload[]
// BENCH_STACKS=a,b runs a subset (the ratios that need a missing stack are skipped).
const stacks = process.env.BENCH_STACKS?.split(',') ?? ALL_STACKS
const apps: App[] = []
for (const stack of stacks) {
  const app = await startApp(stack)
  if (newOnly(stack)) {
    // Only the new-session workload: nothing to prepare.
  } else if (!isPlain(stack)) {
    app.cookie = await firstCookie(app.base)
    app.counted = 1
    for (let i = 0; i < 1000; i++) app.cookies.push((await firstCookie(app.base))!)
    if (workloads.includes('profile')) {
      for (let i = 0; i < 1000; i++) app.signedIn.push((await firstCookie(app.base, '/login'))!)
    }
  } else {
    // Cookies of a session cookie's size, which a plain app ignores, so requests weigh the same.
    for (let i = 0; i < 1000; i++) {
      app.cookies.push(
        `tether.sid=${randomBytes(32).toString('base64url')}.solo.${randomBytes(16).toString('base64url')}`,
      )
    }
    app.signedIn = app.cookies
  }
  apps.push(app)
}

// The machine is shared: every stack runs each workload once per round, rounds alternate the
// stacks, and each keeps its best throughput and its lowest CPU per request. Ratios are the
// median of the per-round ratios (each round compares stacks measured a few seconds apart).
const results = new Map<string, Run>()
const perRound = new Map<string, Run[]>()
for (let round = 0; round < ROUNDS; round++) {
  for (const workload of workloads) {
    for (const app of apps) {
      // Plain apps have no sessions: their reads are the ceiling for the read workload.
      if (isPlain(app.stack) && workload === 'new') continue
      if (newOnly(app.stack) && workload !== 'new') continue
      const run =
        workload === 'count'
          ? await load(app, '/count', isPlain(app.stack) ? undefined : app.cookie)
          : workload === 'read'
            ? await load(app, '/read', app.cookies)
            : workload === 'profile'
              ? await load(app, '/profile', app.signedIn)
              : await load(app, '/count', undefined)
      if (workload === 'count' && app.cookie !== undefined) app.counted += run.sent
      const key = `${app.stack}:${workload}`
      perRound.set(key, [...(perRound.get(key) ?? []), { ...run }])
      const best = results.get(key)
      if (best === undefined) results.set(key, run)
      else {
        best.rps = Math.max(best.rps, run.rps)
        best.cpuUs = Math.min(best.cpuUs, run.cpuUs)
        best.redisCpuUs = Math.min(best.redisCpuUs, run.redisCpuUs)
        if (run.latencyMs !== undefined) best.latencyMs = Math.min(best.latencyMs ?? Infinity, run.latencyMs)
        best.errors += run.errors
      }
      console.log(`round ${round + 1} ${key}: ${Math.round(run.rps)}/s`)
    }
  }
}

const rows: string[] = []
const figures: Array<{ stack: string; workload: string; best: Run; rounds: Run[]; note: string }> = []
for (const app of apps) {
  for (const workload of ALL_WORKLOADS) {
    const run = results.get(`${app.stack}:${workload}`)
    if (run === undefined) continue
    let note = ''
    if (workload === 'count' && app.cookie !== undefined) {
      const count = await readCount(app.base, app.cookie)
      const lost = (((app.counted - count) / app.counted) * 100).toFixed(1)
      note = `counter ${count} of ${app.counted} requests sent (${lost}% lost)`
    }
    figures.push({
      stack: app.stack,
      workload,
      best: run,
      rounds: perRound.get(`${app.stack}:${workload}`)!,
      note,
    })
    const what = isPlain(app.stack) ? `${label[workload]} (no session)` : label[workload]
    rows.push(
      `| ${app.stack} | ${what} | ${Math.round(run.rps)} | ${run.cpuUs.toFixed(0)} | ${run.redisCpuUs.toFixed(1)} | ${run.latencyMs?.toFixed(3) ?? ''} | ${run.roundTrips.toFixed(2)} | ${run.commands.toFixed(2)} | ${run.errors} | ${note} |`,
    )
  }
}
for (const app of apps) await stopApp(app.child)

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}
interface Ratio {
  throughput: number
  cpu: number
  rounds: number[]
}
const ratio = (a: string, b: string): Ratio | undefined => {
  const x = perRound.get(a)
  const y = perRound.get(b)
  if (x === undefined || y === undefined) return undefined
  const rounds = x.map((run, i) => run.rps / y[i]!.rps)
  return { throughput: median(rounds), cpu: median(x.map((run, i) => y[i]!.cpuUs / run.cpuUs)), rounds }
}
const shownRatio = (r: Ratio | undefined) =>
  r === undefined
    ? 'not run | | '
    : `${r.throughput.toFixed(2)}x | ${r.cpu.toFixed(2)}x | ${r.rounds.map((x) => x.toFixed(2)).join(', ')}`
const ratios = RATIOS.map(([what, a, b]): [string, Ratio | undefined] => [what, ratio(a, b)])
console.log(
  `\n${ROUNDS} rounds of ${seconds} s per stack and workload, ${connections} connections, CPU pinning: ${pinning()}`,
)
console.log(
  '| stack | workload | req/s (best) | app CPU µs/req (lowest) | Redis CPU µs/req (lowest) | mean latency ms (lowest; wrk workloads) | Redis round trips/req | Redis commands/req (scripts included) | errors | notes |',
)
console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |')
for (const row of rows) console.log(row)
console.log(
  '\n| ratio (same run, median of per-round ratios) | throughput | CPU per request (inverse) | per round |\n| --- | ---: | ---: | --- |',
)
for (const [what, value] of ratios) console.log(`| ${what} | ${shownRatio(value)} |`)
writeResults(json.file, 'redis-http', json.args, {
  settings: { seconds, rounds: ROUNDS, connections, pinning: pinning() },
  results: figures,
  ratios: ratios.flatMap(([what, value]) => (value === undefined ? [] : [{ what, ...value }])),
})
await stopAllServices()
