import { loadavg } from 'node:os'
import { performance } from 'node:perf_hooks'
import fc from 'fast-check'

/*
 * The fuzz budget shared by test/fuzz. FUZZ_RUNS is the number of cases per target, split among
 * that target's properties by their `share`; the default keeps every fuzz test together to a few
 * seconds inside `npm test`. `npm run fuzz` runs 1,000,000 per target with FUZZ_REPORT set, and
 * prints per target the cases, the time, the slowest case, the failed properties (crashes), the
 * cases that did not settle (hangs) and the heap before and after (with --expose-gc, measured
 * after a collection), then the load average. FUZZ_SEED replays a failure fast-check reported.
 */

const DEFAULT_RUNS = 1000

function envInteger(name: string): number | undefined {
  const text = process.env[name]
  if (text === undefined || text === '') return undefined
  const value = Number(text)
  if (!Number.isSafeInteger(value)) throw new TypeError(`${name} must be an integer, got ${text}`)
  return value
}

/** Cases per target. */
export const RUNS = envInteger('FUZZ_RUNS') ?? DEFAULT_RUNS
const SEED = envInteger('FUZZ_SEED')
/** Whether the long run asked for the report (FUZZ_REPORT). */
export const REPORT = process.env.FUZZ_REPORT !== undefined && process.env.FUZZ_REPORT !== ''

/** The share of a target's cases one property runs (at least one case). */
export function runs(share = 1): number {
  return Math.max(1, Math.ceil(RUNS * share))
}

/** fast-check parameters for a property that runs `share` of its target's cases. */
export function params<T>(share = 1): fc.Parameters<T> {
  return { numRuns: runs(share), ...(SEED === undefined ? {} : { seed: SEED }) }
}

interface TargetFigures {
  cases: number
  /** Properties that failed: a thrown error or a broken expectation (fast-check shrinks it). */
  crashes: number
  /** Cases that did not settle within HANG_MS. */
  hangs: number
  milliseconds: number
  slowestMs: number
  heapBefore: number | undefined
  heapAfter: number
}

const figures = new Map<string, TargetFigures>()

function figuresOf(target: string): TargetFigures {
  let f = figures.get(target)
  if (f === undefined) {
    f = { cases: 0, crashes: 0, hangs: 0, milliseconds: 0, slowestMs: 0, heapBefore: undefined, heapAfter: 0 }
    figures.set(target, f)
  }
  return f
}

function heapUsed(): number {
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  return process.memoryUsage().heapUsed
}

/**
 * How long one asynchronous case may take before it counts as a hang and fails. Generous: a case
 * takes milliseconds, and the long run shares two cores with other work.
 */
const HANG_MS = 10_000

/** Fails when `promise` has not settled within HANG_MS. */
function bounded<R>(promise: Promise<R>, f: TargetFigures): Promise<R> {
  let timer: NodeJS.Timeout | undefined
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      f.hangs++
      reject(new Error(`hang: a case did not settle within ${HANG_MS} ms`))
    }, HANG_MS)
  })
  return Promise.race([promise, hang]).finally(() => clearTimeout(timer))
}

/** Wraps a predicate so that each case's duration counts toward the target's figures. */
export function timed<A extends unknown[], R>(
  target: string,
  predicate: (...args: A) => R,
): (...args: A) => R {
  const f = figuresOf(target)
  return (...args: A): R => {
    const start = performance.now()
    const result = predicate(...args)
    const settle = () => {
      const elapsed = performance.now() - start
      f.cases++
      if (elapsed > f.slowestMs) f.slowestMs = elapsed
    }
    if (result instanceof Promise) return bounded(result, f).finally(settle) as R
    settle()
    return result
  }
}

/** Runs one property of `target`, recording the heap around it and whether it failed. */
export async function fuzz(target: string, run: () => void | Promise<void>): Promise<void> {
  const f = figuresOf(target)
  const before = heapUsed()
  f.heapBefore ??= before
  const start = performance.now()
  try {
    await run()
  } catch (error) {
    f.crashes++
    throw error
  } finally {
    // Wall time, generation and shrinking included: what a long run costs.
    f.milliseconds += performance.now() - start
    f.heapAfter = heapUsed()
  }
}

type Arbitraries<Ts extends unknown[]> = { [K in keyof Ts]: fc.Arbitrary<Ts[K]> }

/**
 * One property of `target` over `share` of its cases: each case timed, the heap measured around
 * the run. The arguments are fast-check's: the arbitraries, then the predicate.
 */
export function fuzzProperty<Ts extends [unknown, ...unknown[]]>(
  target: string,
  share: number,
  ...args: [...Arbitraries<Ts>, (...values: Ts) => void]
): Promise<void> {
  const predicate = timed(target, args.pop() as (...values: Ts) => void)
  const property = fc.property(...([...args, predicate] as Parameters<typeof fc.property<Ts>>))
  return fuzz(target, () => fc.assert(property, params(share)))
}

/** `fuzzProperty` for a predicate that returns a promise (real sockets, callback APIs). */
export function fuzzAsyncProperty<Ts extends [unknown, ...unknown[]]>(
  target: string,
  share: number,
  ...args: [...Arbitraries<Ts>, (...values: Ts) => Promise<void>]
): Promise<void> {
  const predicate = timed(target, args.pop() as (...values: Ts) => Promise<void>)
  const property = fc.asyncProperty(...([...args, predicate] as Parameters<typeof fc.asyncProperty<Ts>>))
  return fuzz(target, () => fc.assert(property, params(share)))
}

const MiB = 1024 * 1024

function reportLine(target: string, f: TargetFigures): string {
  const heap = `${((f.heapBefore ?? 0) / MiB).toFixed(1)} -> ${(f.heapAfter / MiB).toFixed(1)} MiB`
  return [
    target.padEnd(24),
    String(f.cases).padStart(9),
    `${(f.milliseconds / 1000).toFixed(1)} s`.padStart(9),
    `${f.slowestMs.toFixed(2)} ms`.padStart(11),
    String(f.crashes).padStart(7),
    String(f.hangs).padStart(5),
    heap.padStart(20),
  ].join('  ')
}

if (REPORT && typeof after === 'function') {
  after(() => {
    const gc =
      (globalThis as { gc?: unknown }).gc === undefined ? ' (no --expose-gc: heap not collected)' : ''
    const lines = [
      `fuzz report: FUZZ_RUNS=${RUNS}${SEED === undefined ? '' : ` FUZZ_SEED=${SEED}`}${gc}`,
      [
        'target'.padEnd(24),
        'cases'.padStart(9),
        'time'.padStart(9),
        'slowest'.padStart(11),
        'crashes'.padStart(7),
        'hangs'.padStart(5),
        'heap'.padStart(20),
      ].join('  '),
      ...[...figures].map(([target, f]) => reportLine(target, f)),
    ]
    const load = loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')
    lines.push(`load average (1, 5, 15 min) at the end: ${load}`)
    console.log(`\n${lines.join('\n')}\n`)
  })
}
