// HTTP benchmarks of the Redis stores (issue 4), every stack side by side in one run, each app in
// a child process of its own (bench/redis-app.ts) against one redis-server started for the run.
// Run: node --import tsx --conditions=tether-source bench/redis-http.ts [seconds per run, default 3]
import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { parseCommandStats, redisCli, startRedisServer } from '../test/support/redis-server.js'
import { stopAllServices } from '../test/support/services.js'

const seconds = Number(process.argv[2] ?? 3)
const connections = 50
/** Commands that RedisStore only ever runs inside its scripts (counted by commandstats too). */
const INSIDE_SCRIPTS = new Set([
  'type',
  'hget',
  'hmget',
  'hset',
  'hdel',
  'hkeys',
  'pexpire',
  'publish',
  'del',
  'zadd',
  'zremrangebyscore',
])

const redis = await startRedisServer()

async function startApp(app: string): Promise<{ child: ChildProcess; base: string }> {
  const child = fork(fileURLToPath(new URL('./redis-app.ts', import.meta.url)), {
    execArgv: ['--import', 'tsx', '--conditions', 'tether-source'],
    env: { ...process.env, BENCH_APP: app, BENCH_REDIS_URL: redis.url, NODE_ENV: 'production' },
  })
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve(m.port))
    child.once('exit', (code) => reject(new Error(`${app} exited with ${code}`)))
  })
  return { child, base: `http://127.0.0.1:${port}` }
}

async function stopApp(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
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
}

/** Load on `path` with one cookie (or none), or a random one of `cookie` (an array) per request. */
async function load(base: string, path: string, cookie: string | string[] | undefined): Promise<Run> {
  await redisCli(redis, 'CONFIG', 'RESETSTAT')
  const pool = Array.isArray(cookie) ? cookie : undefined
  const result = await autocannon({
    url: `${base}${path}`,
    connections,
    duration: seconds,
    headers: cookie === undefined || pool !== undefined ? {} : { cookie: cookie as string },
    ...(pool !== undefined && {
      requests: [
        {
          method: 'GET',
          path,
          setupRequest: (req) => ({
            ...req,
            headers: { ...req.headers, cookie: pool[Math.floor(Math.random() * pool.length)]! },
          }),
        },
      ],
    }),
  })
  const stats = parseCommandStats(await redisCli(redis, 'INFO', 'commandstats'))
  delete stats.info
  let all = 0
  let top = 0
  for (const [name, calls] of Object.entries(stats)) {
    all += calls
    if (!INSIDE_SCRIPTS.has(name) || name === 'publish') top += INSIDE_SCRIPTS.has(name) ? 0 : calls
  }
  const done = result['2xx'] + result.non2xx
  return {
    sent: result.requests.sent,
    rps: result.requests.average,
    ok: result['2xx'],
    errors: result.non2xx + result.errors + result.timeouts,
    roundTrips: top / Math.max(1, done),
    commands: all / Math.max(1, done),
  }
}

async function firstCookie(base: string): Promise<string | undefined> {
  const res = await fetch(`${base}/count`)
  const set = res.headers.get('set-cookie')
  return set === null ? undefined : set.split(';')[0]
}

async function readCount(base: string, cookie: string | undefined): Promise<number> {
  const res = await fetch(`${base}/read`, { headers: cookie === undefined ? {} : { cookie } })
  return ((await res.json()) as { count: number }).count
}

const rows: string[] = []
const results = new Map<string, Run>()
function record(key: string, label: string, run: Run, extra = ''): void {
  results.set(key, run)
  const row = `| ${label} | ${Math.round(run.rps)} | ${run.roundTrips.toFixed(2)} | ${run.commands.toFixed(2)} | ${run.errors} | ${extra} |`
  rows.push(row)
  console.log(row)
}

const stacks = [
  'express-plain',
  'express-tether-redis',
  'express-tether-hybrid',
  'express-session-connect-redis',
  'fastify-plain',
  'fastify-tether-redis',
  'fastify-session-connect-redis',
]

for (const stack of stacks) {
  const { child, base } = await startApp(stack)
  try {
    if (stack.endsWith('plain')) {
      record(`${stack}:count`, `${stack}: no session`, await load(base, '/count', undefined))
      continue
    }
    // Counter: 50 connections on one cookie; the stored counter must equal the requests answered.
    const cookie = await firstCookie(base)
    const counter = await load(base, '/count', cookie)
    const count = await readCount(base, cookie)
    // Every request sent reaches the app (connections close only after the last answer).
    const expected = counter.sent + 1
    const lost = (((expected - count) / expected) * 100).toFixed(1)
    record(
      `${stack}:count`,
      `${stack}: counter, one cookie`,
      counter,
      `counter ${count} of ${expected} requests (${lost}% lost)`,
    )
    // Reads spread over 1000 sessions (under one cookie, concurrent requests share one load).
    const cookies: string[] = []
    for (let i = 0; i < 1000; i++) cookies.push((await firstCookie(base))!)
    record(`${stack}:read`, `${stack}: read, 1000 sessions`, await load(base, '/read', cookies))
    // New sessions: no cookie, every request creates and stores a session.
    record(`${stack}:new`, `${stack}: new session per request`, await load(base, '/count', undefined))
    await redisCli(redis, 'FLUSHALL')
  } finally {
    await stopApp(child)
  }
}

const ratio = (a: string, b: string) => (results.get(a)!.rps / results.get(b)!.rps).toFixed(2)
const ratios = [
  [
    'express+tether+RedisStore / express+express-session+connect-redis, counter',
    ratio('express-tether-redis:count', 'express-session-connect-redis:count'),
  ],
  [
    'express+tether+RedisStore / express+express-session+connect-redis, new sessions',
    ratio('express-tether-redis:new', 'express-session-connect-redis:new'),
  ],
  [
    'express+tether+RedisStore counter / plain express',
    ratio('express-tether-redis:count', 'express-plain:count'),
  ],
  [
    'express+tether+RedisStore read / plain express',
    ratio('express-tether-redis:read', 'express-plain:count'),
  ],
  [
    'HybridStore / RedisStore, reads (express)',
    ratio('express-tether-hybrid:read', 'express-tether-redis:read'),
  ],
  [
    'HybridStore / RedisStore, counter (express)',
    ratio('express-tether-hybrid:count', 'express-tether-redis:count'),
  ],
  [
    'fastify+tether+RedisStore / fastify+@fastify/session+connect-redis, counter',
    ratio('fastify-tether-redis:count', 'fastify-session-connect-redis:count'),
  ],
  [
    'fastify+tether+RedisStore / fastify+@fastify/session+connect-redis, new sessions',
    ratio('fastify-tether-redis:new', 'fastify-session-connect-redis:new'),
  ],
  [
    'fastify+tether+RedisStore / fastify+@fastify/session+connect-redis, reads',
    ratio('fastify-tether-redis:read', 'fastify-session-connect-redis:read'),
  ],
]
console.log(
  '\n| run | req/s | Redis round trips/req | Redis commands/req (scripts included) | errors | notes |',
)
console.log('| --- | ---: | ---: | ---: | ---: | --- |')
for (const row of rows) console.log(row)
console.log('\n| ratio (same run) | value |\n| --- | ---: |')
for (const [label, value] of ratios) console.log(`| ${label} | ${value}x |`)
await stopAllServices()
