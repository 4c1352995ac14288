// The faults the chaos scenarios inject into real processes: kill -9 and SIGSTOP of cluster
// workers, a stopped or frozen redis-server, a reload. Each returns the window it was active in
// and what the clients may see meanwhile, which is what the analysis holds every failure against.
import type { ClusterFixture } from '../support/cluster-fixture.js'
import { waitFor } from '../support/load-loop.js'
import type { RedisServerHandle } from '../support/redis-server.js'

/** What a failed request looked like to its client. */
export type FailureKind =
  /** The connection broke: the worker holding it died. */
  | 'reset'
  /** 503 with a Retry-After in seconds: the session store (or every worker) is unavailable. */
  | '503'
  /** No answer within the client's timeout. */
  | 'timeout'
  /** Any other status. */
  | 'other'

/** One fault as it happened. */
export interface FaultWindow {
  readonly fault: string
  readonly start: number
  /** When the fault was over (the process resumed, the server was back, the reload resolved). */
  readonly end: number
  /** Failures this fault explains, seen from `start` to `end + graceMs`. */
  readonly allowed: readonly FailureKind[]
  /** How long after `end` the fault may still cause failures (reconnect back-off and the like). */
  readonly graceMs: number
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A small seeded PRNG (mulberry32), so a run's choice of victims can be replayed with CHAOS_SEED. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Resolves once every worker slot has a ready worker. */
export async function allReady(cluster: ClusterFixture, timeout = 30_000): Promise<void> {
  await waitFor(async () => (await cluster.workers()).every((w) => w.state === 'ready'), timeout, 100)
}

async function randomReadyPid(cluster: ClusterFixture, random: () => number): Promise<number> {
  const ready = (await cluster.workers()).filter((w) => w.state === 'ready' && w.pid !== undefined)
  if (ready.length === 0) throw new Error('no ready worker to inject a fault into')
  return ready[Math.floor(random() * ready.length)]!.pid!
}

/**
 * kill -9 of a random ready worker. Its in-flight requests break ('reset'); hand-offs it never
 * acknowledged are routed again by the primary, so nothing else fails.
 */
export async function killWorker(cluster: ClusterFixture, random: () => number): Promise<FaultWindow> {
  const pid = await randomReadyPid(cluster, random)
  const start = Date.now()
  process.kill(pid, 'SIGKILL')
  // Over once the primary has seen the exit: until then the slot still looks ready, and a wait for
  // every slot to be ready would pass at once.
  await waitFor(async () => !(await cluster.workers()).some((w) => w.pid === pid && w.state === 'ready'))
  return { fault: 'kill -9 worker', start, end: Date.now(), allowed: ['reset'], graceMs: 1000 }
}

/**
 * SIGSTOP of a random ready worker for `ms`, then SIGCONT. Shorter than the heartbeat timeout, its
 * requests only wait; longer, the primary declares it hung and kills it (the SIGCONT then finds no
 * process), and the requests it had accepted break.
 */
export async function pauseWorker(
  cluster: ClusterFixture,
  random: () => number,
  ms: number,
  heartbeatTimeout: number,
): Promise<FaultWindow> {
  const pid = await randomReadyPid(cluster, random)
  const start = Date.now()
  process.kill(pid, 'SIGSTOP')
  await sleep(ms)
  try {
    process.kill(pid, 'SIGCONT')
  } catch {
    // Killed as hung meanwhile.
  }
  const hung = ms >= heartbeatTimeout
  return {
    fault: hung ? `SIGSTOP ${ms} ms (hung)` : `SIGSTOP ${ms} ms`,
    start,
    end: Date.now(),
    allowed: hung ? ['reset'] : [],
    graceMs: 1000,
  }
}

/**
 * redis-server stopped (SIGTERM) for `ms` and started again on the same port, with its
 * append-only file. Meanwhile every request that needs the session answers 503 with Retry-After;
 * afterwards the clients reconnect on their own (ioredis's back-off, at most 2 s).
 */
export async function stopRedis(redis: RedisServerHandle, ms: number): Promise<FaultWindow> {
  const start = Date.now()
  await redis.stop()
  await sleep(ms)
  await redis.start()
  return { fault: `redis stopped ${ms} ms`, start, end: Date.now(), allowed: ['503'], graceMs: 3000 }
}

/**
 * redis-server frozen (SIGSTOP) for `ms`: connections stay open and nothing answers, so only the
 * store's own timeout (2 s) ends a request, with a 503 and Retry-After.
 */
export async function freezeRedis(redis: RedisServerHandle, ms: number): Promise<FaultWindow> {
  const start = Date.now()
  redis.pause()
  await sleep(ms)
  redis.resume()
  // A request frozen with Redis finishes as soon as Redis answers again.
  return { fault: `redis frozen ${ms} ms`, start, end: Date.now(), allowed: ['503'], graceMs: 1000 }
}

/** cluster.reload(): every worker replaced in turn, with no failed request. */
export async function reloadCluster(cluster: ClusterFixture): Promise<FaultWindow> {
  const start = Date.now()
  await cluster.reload()
  return { fault: 'reload()', start, end: Date.now(), allowed: [], graceMs: 0 }
}
