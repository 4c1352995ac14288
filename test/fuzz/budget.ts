import { performance } from 'node:perf_hooks'
import type fc from 'fast-check'

/*
 * The fuzz budget shared by test/fuzz. FUZZ_RUNS is the number of cases per target, split among
 * that target's properties by their `share`; the default keeps every fuzz test together to a few
 * seconds inside `npm test`. `npm run fuzz` runs 1,000,000 per target with FUZZ_REPORT set, and
 * prints per target the cases, the time, the slowest case and the heap before and after (with
 * --expose-gc, measured after a collection). FUZZ_SEED replays a failure fast-check reported.
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
const REPORT = process.env.FUZZ_REPORT !== undefined && process.env.FUZZ_REPORT !== ''

/** The share of a target's cases one property runs (at least one case). */
export function runs(share = 1): number {
  return Math.max(1, Math.ceil(RUNS * share))
}

/** fast-check parameters for a property that runs `share` of its target's cases. */
export function params<T>(share = 1): fc.Parameters<T> {
  return { numRuns: runs(share), ...(SEED === undefined ? {} : { seed: SEED }) }
}

/** Like `params`, at most `cap` cases: for properties that open a socket per case. */
export function cappedParams<T>(share: number, cap: number): fc.Parameters<T> {
  return { ...params<T>(share), numRuns: Math.min(cap, runs(share)) }
}

interface TargetFigures {
  cases: number
  milliseconds: number
  slowestMs: number
  heapBefore: number | undefined
  heapAfter: number
}

const figures = new Map<string, TargetFigures>()

function figuresOf(target: string): TargetFigures {
  let f = figures.get(target)
  if (f === undefined) {
    f = { cases: 0, milliseconds: 0, slowestMs: 0, heapBefore: undefined, heapAfter: 0 }
    figures.set(target, f)
  }
  return f
}

function heapUsed(): number {
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  return process.memoryUsage().heapUsed
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
    if (result instanceof Promise) return result.finally(settle) as R
    settle()
    return result
  }
}

/** Runs one property of `target`, recording the heap around it. */
export async function fuzz(target: string, run: () => void | Promise<void>): Promise<void> {
  const f = figuresOf(target)
  const before = heapUsed()
  f.heapBefore ??= before
  const start = performance.now()
  await run()
  // Wall time, generation and shrinking included: what a long run costs.
  f.milliseconds += performance.now() - start
  f.heapAfter = heapUsed()
}

const MiB = 1024 * 1024

function reportLine(target: string, f: TargetFigures): string {
  const heap = `${((f.heapBefore ?? 0) / MiB).toFixed(1)} -> ${(f.heapAfter / MiB).toFixed(1)} MiB`
  return [
    target.padEnd(22),
    String(f.cases).padStart(9),
    `${(f.milliseconds / 1000).toFixed(1)} s`.padStart(9),
    `${f.slowestMs.toFixed(2)} ms`.padStart(11),
    heap.padStart(20),
  ].join('  ')
}

if (REPORT && typeof after === 'function') {
  after(() => {
    const gc =
      (globalThis as { gc?: unknown }).gc === undefined ? ' (no --expose-gc: heap not collected)' : ''
    const lines = [
      `fuzz report: FUZZ_RUNS=${RUNS}${SEED === undefined ? '' : ` FUZZ_SEED=${SEED}`}${gc}`,
      `${'target'.padEnd(22)}  ${'cases'.padStart(9)}  ${'time'.padStart(9)}  ${'slowest'.padStart(11)}  ${'heap'.padStart(20)}`,
      ...[...figures].map(([target, f]) => reportLine(target, f)),
    ]
    console.log(`\n${lines.join('\n')}\n`)
  })
}
