import { expect } from 'chai'
import type { Failure } from '../support/session-counters.js'
import { chaosFigures, kindOf } from './chaos-figures.js'
import type { FaultWindow } from './faults.js'

// The analysis the chaos assertions rest on: a failure counts as explained only when its fault
// allows its kind and it falls in the fault's window, so a green chaos run means something.

const window: FaultWindow = {
  fault: 'reload()',
  start: 1_000,
  end: 2_000,
  allowed: ['503', 'stale'],
  graceMs: 500,
  mayHaveRun: false,
}
const unavailable = (at: number, client: number): Failure => ({
  at,
  client,
  error: 'status 503',
  status: 503,
  retryAfter: '1',
})

function figures(failures: Failure[], answeredAt: number[][]) {
  return chaosFigures({
    scenario: 'test',
    seconds: 1,
    sessions: 2,
    clients: answeredAt.length,
    load: { failures, answeredAt, anomalies: [], requests: () => failures.length },
    windows: [window],
    finalAnomalies: [],
  })
}

describe('chaos figures', () => {
  it('tells the kinds of failure apart', () => {
    expect(kindOf(unavailable(0, 0))).to.equal('503')
    expect(kindOf({ at: 0, error: 'status 503', status: 503 })).to.equal('other')
    expect(kindOf({ at: 0, error: 'status 500', status: 500 })).to.equal('other')
    expect(kindOf({ at: 0, error: 'request to / timed out' })).to.equal('timeout')
    expect(kindOf({ at: 0, error: 'socket hang up' })).to.equal('reset')
    expect(kindOf({ at: 0, error: 'socket hang up', stale: true })).to.equal('stale')
  })

  it('explains a failure of an allowed kind inside the window and its grace, and nothing else', () => {
    // Noticed late, but sent inside the window and its grace.
    const lateNotice = { ...unavailable(4_000, 1), sentAt: 2_300 }
    const inside = [unavailable(1_000, 0), unavailable(2_400, 1), lateNotice]
    const sentLate = { ...unavailable(2_700, 0), sentAt: 2_600 }
    const outside = [unavailable(999, 0), sentLate, { at: 1_500, client: 0, error: 'socket hang up' }]
    const f = figures([...inside, ...outside], [[3_000], [5_000]])
    expect(f.unexplained).to.deep.equal(outside)
    expect(f.failed).to.deep.equal({ '503': 5, reset: 1 })
  })

  it('does not explain a failure whose write was stored where the fault says none can have been', () => {
    const ran: Failure = { at: 1_500, client: 0, error: 'socket hang up', stale: true, landed: true }
    const notRan: Failure = { at: 1_600, client: 1, error: 'socket hang up', stale: true }
    expect(figures([ran, notRan], [[3_000], [3_000]]).unexplained).to.deep.equal([ran])
  })

  it('measures recovery to the first answer after each client’s last failure, or reports none', () => {
    const failures = [unavailable(1_500, 0), unavailable(2_100, 1)]
    expect(
      figures(failures, [
        [900, 2_300],
        [2_050, 2_700],
      ]).recoveryMs,
    ).to.equal(700)
    expect(figures(failures, [[2_300], [2_050]]).unrecovered).to.equal(1)
    expect(figures([], [[], []]).recoveryMs).to.equal(0)
    // Held up by a second fault at 2,500: not the first one's recovery.
    const second: FaultWindow = { ...window, start: 2_500, end: 3_000 }
    const held = chaosFigures({
      scenario: 'test',
      seconds: 1,
      sessions: 1,
      clients: 1,
      load: { failures: [unavailable(1_500, 0)], answeredAt: [[6_000]], anomalies: [], requests: () => 1 },
      windows: [window, second],
      finalAnomalies: [],
    })
    expect(held.recoveryMs).to.equal(0)
    expect(held.unrecovered).to.equal(0)
  })
})
