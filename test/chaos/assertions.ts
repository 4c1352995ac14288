// What every chaos scenario must show, whatever its faults: no session ever answers with another
// session's marker, goes backwards, skips ahead or comes back empty; every failed request is one
// its fault explains (the right kind, inside the fault's window); every client that failed gets
// answers again within the scenario's bound; and the final read of every session succeeds.
import { expect } from 'chai'
import type { ChaosResult } from './chaos-run.js'
import type { FailureKind } from './faults.js'

export interface SoundnessBounds {
  /** Longest acceptable recovery after a fault, ms. */
  readonly recoveryMs: number
  /** Kinds of failure that must have happened at least once (the fault did bite). */
  readonly mustSee?: readonly FailureKind[]
}

export function expectSound(result: ChaosResult, bounds: SoundnessBounds): void {
  const f = result.figures
  const summary = JSON.stringify({ ...f, unexplained: f.unexplained.slice(0, 5) })
  // Which answer, from which worker, and when against the last fault before it: what tells one
  // cause from another.
  const first = result.anomalies.slice(0, 3).map((a) => {
    const fault = result.windows.filter((w) => w.start <= a.at).at(-1)
    return fault === undefined
      ? a
      : { ...a, after: fault.fault, msAfterStart: a.at - fault.start, msAfterEnd: a.at - fault.end }
  })
  expect(
    f.anomalies,
    `no foreign, backwards, skipped or lost answer: ${summary} ${JSON.stringify(first)}`,
  ).to.deep.equal({})
  expect(f.lostSessions, summary).to.equal(0)
  expect(f.unexplained.slice(0, 5), `every failure explained by its fault: ${summary}`).to.deep.equal([])
  expect(f.unrecovered, `every client answered again after each fault: ${summary}`).to.equal(0)
  expect(f.recoveryMs, `recovery within ${bounds.recoveryMs} ms: ${summary}`).to.be.at.most(bounds.recoveryMs)
  expect(result.finalFailures, `the final read of every session: ${summary}`).to.equal(0)
  for (const kind of bounds.mustSee ?? []) {
    expect(f.failed[kind] ?? 0, `the fault caused '${kind}' failures: ${summary}`).to.be.above(0)
  }
}
