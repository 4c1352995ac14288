// Tiny benchmark helpers shared by the bench scripts: run an operation for a fixed time and
// report operations per second. Nothing here is a test; figures go to bench/README.md.

/** Runs `op` repeatedly for about `ms` milliseconds (after a short warm-up); returns ops/second. */
export async function opsPerSecond(op: () => unknown, ms = 1000): Promise<number> {
  const batch = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const r = op()
      if (r instanceof Promise) await r
    }
  }
  await batch(1000)
  let count = 0
  const start = process.hrtime.bigint()
  const deadline = start + BigInt(ms) * 1_000_000n
  let now = start
  while (now < deadline) {
    await batch(1000)
    count += 1000
    now = process.hrtime.bigint()
  }
  return count / (Number(now - start) / 1e9)
}

/** Milliseconds taken by `fn`, the best of `runs` runs (the least disturbed by the shared machine). */
export function bestMs(fn: () => unknown, runs = 5, setup?: () => void): number {
  let best = Number.POSITIVE_INFINITY
  for (let i = 0; i < runs; i++) {
    setup?.()
    const start = process.hrtime.bigint()
    fn()
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e6)
  }
  return best
}

export function formatRate(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M/s` : `${(n / 1e3).toFixed(1)}k/s`
}

export function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc
  if (collect === undefined) throw new Error('run with node --expose-gc')
  collect()
  collect()
}
