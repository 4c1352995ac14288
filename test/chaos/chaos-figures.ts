// What a chaos run measured, from the load's record and the fault windows: every failed request
// is either explained by a fault (the right kind, inside its window) or counted as unexplained,
// and recovery is how long after a fault its clients needed to get an answer again.
import type { Anomaly, CounterLoad, Failure } from '../support/session-counters.js'
import type { FailureKind, FaultWindow } from './faults.js'

/** The figures of one scenario, as recorded in docs/RELIABILITY.md. */
export interface ChaosFigures {
  readonly scenario: string
  readonly seconds: number
  readonly sessions: number
  readonly clients: number
  readonly faults: number
  readonly requests: number
  /** Failed requests by kind. */
  readonly failed: Partial<Record<FailureKind, number>>
  /** Failures no fault explains: a wrong kind, outside every window, or run where none may have. */
  readonly unexplained: readonly Failure[]
  /** Anomalies by kind, during the load and in the final read of every session. */
  readonly anomalies: Partial<Record<Anomaly['kind'], number>>
  /** Sessions that came back empty at least once. */
  readonly lostSessions: number
  /** Longest recovery after a fault, in ms (0 when no request failed). */
  readonly recoveryMs: number
  /** Faults after which some client that failed never got an answer again. */
  readonly unrecovered: number
}

/** The kind of a failure as its client saw it. */
export function kindOf(failure: Failure): FailureKind {
  if (failure.status === 503 && /^\d+$/.test(failure.retryAfter ?? '')) return '503'
  if (failure.status !== undefined) return 'other'
  if (/timed out/.test(failure.error)) return 'timeout'
  return failure.stale === true ? 'stale' : 'reset'
}

/** The window that explains `failure`, if any. */
function explainedBy(failure: Failure, windows: readonly FaultWindow[]): FaultWindow | undefined {
  const kind = kindOf(failure)
  // Noticed after the fault began, and sent before it was over (and its grace): a client starved
  // of CPU may notice a broken connection late, which must not make its failure unexplained.
  return windows.find(
    (w) =>
      w.allowed.includes(kind) &&
      (w.mayHaveRun || failure.landed !== true) &&
      failure.at >= w.start &&
      (failure.sentAt ?? failure.at) <= w.end + w.graceMs,
  )
}

/** The first time in `times` (ascending) after `t`, or undefined. */
function firstAfter(times: readonly number[], t: number): number | undefined {
  let lo = 0
  let hi = times.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (times[mid]! <= t) lo = mid + 1
    else hi = mid
  }
  return times[lo]
}

/**
 * Recovery after each fault: from the fault's end until every client that failed because of it
 * had a successful answer after its last such failure. An answer held up by the next fault (the
 * client's next request went to the next victim) is that fault's delay, not this one's recovery:
 * such a client is left out here, and a client with no answer at all afterwards is unrecovered.
 */
function recoveries(
  load: Pick<CounterLoad, 'failures' | 'answeredAt'>,
  windows: readonly FaultWindow[],
): { worst: number; unrecovered: number } {
  let worst = 0
  let unrecovered = 0
  windows.forEach((w, i) => {
    const nextStart = windows[i + 1]?.start ?? Number.POSITIVE_INFINITY
    const lastFailure = new Map<number, number>()
    for (const f of load.failures) {
      if (f.client === undefined || explainedBy(f, [w]) === undefined) continue
      lastFailure.set(f.client, Math.max(lastFailure.get(f.client) ?? 0, f.at))
    }
    let recovered = true
    for (const [client, at] of lastFailure) {
      const next = firstAfter(load.answeredAt[client] ?? [], at)
      if (next === undefined) recovered = false
      else if (next <= nextStart) worst = Math.max(worst, next - w.end)
    }
    if (!recovered) unrecovered++
  })
  return { worst, unrecovered }
}

function countBy<T, K extends string>(items: readonly T[], key: (item: T) => K): Partial<Record<K, number>> {
  const counts: Partial<Record<K, number>> = {}
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1
  return counts
}

/** Works out the figures of a finished run. */
export function chaosFigures(run: {
  scenario: string
  seconds: number
  sessions: number
  clients: number
  load: Pick<CounterLoad, 'failures' | 'answeredAt' | 'anomalies' | 'requests'>
  windows: readonly FaultWindow[]
  finalAnomalies: readonly Anomaly[]
}): ChaosFigures {
  const anomalies = [...run.load.anomalies, ...run.finalAnomalies]
  const { worst, unrecovered } = recoveries(run.load, run.windows)
  return {
    scenario: run.scenario,
    seconds: run.seconds,
    sessions: run.sessions,
    clients: run.clients,
    faults: run.windows.length,
    requests: run.load.requests(),
    failed: countBy(run.load.failures, kindOf),
    unexplained: run.load.failures.filter((f) => explainedBy(f, run.windows) === undefined),
    anomalies: countBy(anomalies, (a) => a.kind),
    lostSessions: new Set(anomalies.filter((a) => a.kind === 'lost').map((a) => a.marker)).size,
    recoveryMs: worst,
    unrecovered,
  }
}

function total(counts: Partial<Record<string, number>>): number {
  return Object.values(counts).reduce((sum: number, n) => sum + (n ?? 0), 0)
}

function detail(counts: Partial<Record<string, number>>): string {
  const parts = Object.entries(counts).map(([kind, n]) => `${n?.toLocaleString('en-US')} ${kind}`)
  return parts.length === 0 ? '0' : `${total(counts).toLocaleString('en-US')} (${parts.join(', ')})`
}

/** The header of the Markdown table that `tableRow` fills. */
export const TABLE_HEADER = [
  '| Scenario | Duration | Sessions / clients | Faults | Requests | Failed | Unexplained | Anomalies | Sessions lost | Recovery |',
  '| --- | ---: | ---: | ---: | ---: | --- | ---: | --- | ---: | ---: |',
].join('\n')

/** One scenario as a row of the Markdown table in docs/RELIABILITY.md. */
export function tableRow(f: ChaosFigures): string {
  const cells = [
    f.scenario,
    `${f.seconds} s`,
    `${f.sessions} / ${f.clients}`,
    String(f.faults),
    f.requests.toLocaleString('en-US'),
    detail(f.failed),
    String(f.unexplained.length),
    detail(f.anomalies),
    String(f.lostSessions),
    f.unrecovered > 0 ? `never (${f.unrecovered} faults)` : `${(f.recoveryMs / 1000).toFixed(2)} s`,
  ]
  return `| ${cells.join(' | ')} |`
}
