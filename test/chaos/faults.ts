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
  /**
   * A request sent on a pooled keep-alive connection that the server closed meanwhile (a dead
   * worker's, or one a draining worker closed as idle): no byte of an answer came. HTTP/1.1
   * allows a server to close an idle connection at any time, and clients (browsers among them)
   * send such a request again on a new connection.
   */
  | 'stale'
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
  /**
   * A failed request may have run (its write stored) before its answer was lost: a worker died
   * after the write, or the store timed out and did it later. Without this, a failure whose write
   * is found stored afterwards is not explained.
   */
  readonly mayHaveRun: boolean
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

async function randomReadyWorker(
  cluster: ClusterFixture,
  random: () => number,
): Promise<{ pid: number; route: string }> {
  const ready = (await cluster.workers()).filter((w) => w.state === 'ready' && w.pid !== undefined)
  if (ready.length === 0) throw new Error('no ready worker to inject a fault into')
  const picked = ready[Math.floor(random() * ready.length)]!
  return { pid: picked.pid!, route: picked.route }
}

/**
 * kill -9 of a random ready worker. Its in-flight requests break ('reset'); hand-offs it never
 * acknowledged are routed again by the primary, so nothing else fails.
 */
export async function killWorker(cluster: ClusterFixture, random: () => number): Promise<FaultWindow> {
  const { pid, route } = await randomReadyWorker(cluster, random)
  const start = Date.now()
  process.kill(pid, 'SIGKILL')
  // Over once the primary has seen the exit: until then the slot still looks ready, and a wait for
  // every slot to be ready would pass at once. The grace covers a client that sends on a pooled
  // connection to the dead worker before it has processed that connection's close.
  await waitFor(async () => !(await cluster.workers()).some((w) => w.pid === pid && w.state === 'ready'))
  return {
    fault: `kill -9 worker ${route}`,
    start,
    end: Date.now(),
    allowed: ['reset', 'stale'],
    graceMs: 2000,
    mayHaveRun: true,
  }
}

/**
 * SIGSTOP of a random ready worker for `ms`, then SIGCONT. Shorter than the heartbeat timeout, its
 * requests only wait, but the store timeout (2 s of wall time) goes on running meanwhile: a store
 * call that was already waiting may time out when the worker resumes, which is a 503 with
 * Retry-After. Longer, the primary declares it hung and kills it (the SIGCONT then finds no
 * process), and the requests it had accepted break.
 */
export async function pauseWorker(
  cluster: ClusterFixture,
  random: () => number,
  ms: number,
  heartbeatTimeout: number,
): Promise<FaultWindow> {
  const { pid } = await randomReadyWorker(cluster, random)
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
    allowed: hung ? ['reset', 'stale', '503'] : ['503'],
    graceMs: 1000,
    mayHaveRun: true,
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
  return {
    fault: `redis stopped ${ms} ms`,
    start,
    end: Date.now(),
    allowed: ['503'],
    graceMs: 3000,
    mayHaveRun: true,
  }
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
  return {
    fault: `redis frozen ${ms} ms`,
    start,
    end: Date.now(),
    allowed: ['503'],
    graceMs: 1000,
    mayHaveRun: true,
  }
}

/**
 * cluster.reload(): every worker replaced in turn. No request fails, except one sent on a pooled
 * connection just as the draining worker closes it as idle ('stale').
 */
export async function reloadCluster(cluster: ClusterFixture): Promise<FaultWindow> {
  const start = Date.now()
  await cluster.reload()
  // The last old worker's drain goes on for a moment after reload() resolves. A stale request
  // never reached the app, so its write must never be found stored.
  return { fault: 'reload()', start, end: Date.now(), allowed: ['stale'], graceMs: 1000, mayHaveRun: false }
}
