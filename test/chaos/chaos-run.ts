// Runs one chaos scenario end to end: a redis-server when the store needs one, a 4-worker cluster
// of the Express counter app, counter sessions driven by sequential clients, faults one after
// another for the scenario's duration, a tail of calm traffic, and a final read of every session.
//
// Short by default (a few seconds per scenario, inside `npm test`); CHAOS_DURATION=<seconds> makes
// every scenario run that long with more sessions and clients, and CHAOS_REPORT=1 prints each
// scenario's figures as a row of the table in docs/RELIABILITY.md (`npm run chaos` does both).
import type { ClusterOptions } from '@tether/cluster'
import { FIXTURE_SECRET } from '../cluster/fixtures/session-cluster-secret.js'
import { type ClusterFixture, startClusterFixture } from '../support/cluster-fixture.js'
import { waitFor } from '../support/load-loop.js'
import { type RedisServerHandle, startRedisServer, uniquePrefix } from '../support/redis-server.js'
import {
  type Anomaly,
  type CounterLoad,
  checkEverySession,
  createCounterSessions,
  startCounterLoad,
} from '../support/session-counters.js'
import { type ChaosFigures, chaosFigures, TABLE_HEADER, tableRow } from './chaos-figures.js'
import { allReady, type FaultWindow, prng } from './faults.js'

function envNumber(name: string): number | undefined {
  const text = process.env[name]
  if (text === undefined || text === '') return undefined
  const value = Number(text)
  if (!Number.isFinite(value) || value <= 0)
    throw new TypeError(`${name} must be a positive number, got ${text}`)
  return value
}

/** Seconds per scenario in the long run; undefined for the short run of `npm test`. */
const FULL_SECONDS = envNumber('CHAOS_DURATION')
/** The long run, with its load. */
export const FULL = FULL_SECONDS !== undefined
const REPORT = process.env.CHAOS_REPORT !== undefined && process.env.CHAOS_REPORT !== ''
const SEED = envNumber('CHAOS_SEED') ?? Math.floor(Math.random() * 2 ** 31)

/** What a scenario's faults can reach. */
export interface FaultContext {
  readonly cluster: ClusterFixture
  /** The scenario's own redis-server (RedisStore and HybridStore scenarios). */
  readonly redis: RedisServerHandle | undefined
  readonly random: () => number
}

export interface ChaosScenario {
  readonly name: string
  /** Where sessions live: each worker's MemoryStore, or one Redis shared by all. */
  readonly store: 'memory' | 'redis' | 'hybrid'
  /** Cluster options on top of the chaos defaults. */
  readonly cluster?: ClusterOptions
  /** Seconds of faults in the short run. */
  readonly shortSeconds: number
  /** Pause between the end of one fault and the start of the next, ms. */
  readonly gapMs: number
  /** Clients keep one connection per session open (as browsers do) instead of one per request. */
  readonly keepAlive?: boolean
  /** Waits until every slot has a ready worker before each fault (one failure at a time). */
  readonly oneAtATime?: boolean
  /** Injects one fault; resolves with its window once it is over. */
  fault(ctx: FaultContext, index: number): Promise<FaultWindow>
}

/** A finished run: the figures, and what the assertions look at beyond them. */
export interface ChaosResult {
  readonly figures: ChaosFigures
  readonly windows: readonly FaultWindow[]
  /** Failures of the final read of every session (after the faults, expected none). */
  readonly finalFailures: number
  readonly restarts: number
  readonly hung: number
  /** Requests that reached a worker other than their session's owner (keep-alive connections). */
  readonly misroutes: number
  /** Every anomaly, under load and in the final read, for the failure message. */
  readonly anomalies: readonly Anomaly[]
}

const reported: ChaosFigures[] = []

/**
 * Kills are planned here, not a crash loop: a restart window this short keeps the respawn delay at
 * `restartDelay`, and the slot is never given up on.
 */
const CHAOS_CLUSTER: ClusterOptions = {
  workers: 4,
  host: '127.0.0.1',
  secret: FIXTURE_SECRET,
  restartDelay: 200,
  restartWindow: 2_000,
  maxRestarts: 1_000,
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Runs `scenario` and returns its figures (printed too with CHAOS_REPORT). */
export async function runChaos(scenario: ChaosScenario): Promise<ChaosResult> {
  const sessionCount = FULL ? 400 : 120
  const clients = FULL ? 12 : 6
  const seconds = FULL_SECONDS ?? scenario.shortSeconds
  let redis: RedisServerHandle | undefined
  let cluster: ClusterFixture | undefined
  try {
    if (scenario.store !== 'memory') redis = await startRedisServer({ persistent: true })
    cluster = await startClusterFixture(
      { ...CHAOS_CLUSTER, ...scenario.cluster },
      {
        framework: 'express',
        ...(redis !== undefined && {
          store: { kind: scenario.store, url: redis.url, prefix: uniquePrefix('chaos') },
        }),
      },
      'framework-cluster',
      { NODE_V8_COVERAGE: '' },
    )
    const sessions = await createCounterSessions(cluster.port, sessionCount, 'chaos')
    const load = startCounterLoad(cluster.port, sessions, clients, { keepAlive: scenario.keepAlive === true })
    const windows: FaultWindow[] = []
    const ctx: FaultContext = { cluster, redis, random: prng(SEED) }
    const started = Date.now()
    try {
      await waitFor(() => load.requests() > 100, 20_000)
      // At least one fault, however short the run; none that would end after the deadline.
      const deadline = Date.now() + seconds * 1000
      for (let i = 0; i < 10_000 && (i === 0 || Date.now() < deadline); i++) {
        if (scenario.oneAtATime === true) await allReady(cluster)
        windows.push(await scenario.fault(ctx, i))
        await sleep(Math.max(0, Math.min(scenario.gapMs, deadline - Date.now())))
      }
      // Calm traffic after the last fault, until every client got an answer after the fault and
      // after its own last failure (or 30 s passed: the figures then show the fault as
      // unrecovered). A request sent inside the fault's grace can fail after the client's first
      // answer since the fault.
      await allReady(cluster)
      const lastEnd = Math.max(...windows.map((w) => w.end))
      const before = load.requests()
      await waitFor(
        () =>
          load.requests() > before + 4 * clients &&
          load.answeredAt.every((times, client) => (times.at(-1) ?? 0) > lastSettled(load, client, lastEnd)),
        30_000,
      ).catch(() => undefined)
    } finally {
      await load.stop()
    }
    const final = await checkEverySession(cluster.port, sessions)
    const metrics = await cluster.metrics()
    const figures = chaosFigures({
      scenario: scenario.name,
      seconds: Math.round((Date.now() - started) / 1000),
      sessions: sessionCount,
      clients,
      load,
      windows,
      finalAnomalies: final.anomalies,
    })
    if (REPORT) {
      reported.push(figures)
      console.log(`      ${tableRow(figures)}`)
    }
    return {
      figures,
      windows,
      finalFailures: final.failures.length,
      restarts: metrics.restarts,
      hung: metrics.hung,
      misroutes: metrics.misroutes,
      anomalies: [...load.anomalies, ...final.anomalies],
    }
  } finally {
    await cluster?.close()
    redis?.resume()
    await redis?.stop()
  }
}

/** The later of `lastEnd` and the last failure `client` noticed. */
function lastSettled(load: CounterLoad, client: number, lastEnd: number): number {
  let last = lastEnd
  for (const failure of load.failures) if (failure.client === client && failure.at > last) last = failure.at
  return last
}

/** Prints the table of every scenario run so far (CHAOS_REPORT), with the seed that replays it. */
export function printChaosTable(): void {
  if (!REPORT || reported.length === 0) return
  console.log(`\nChaos, ${FULL_SECONDS ?? 'short'} s per scenario, CHAOS_SEED=${SEED}\n`)
  console.log(TABLE_HEADER)
  for (const figures of reported.splice(0)) console.log(tableRow(figures))
}
