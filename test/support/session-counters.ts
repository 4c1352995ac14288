// Sessions that each carry a counter and a marker of their own, driven by clients that check every
// answer: the counter must go up by one per request (by two after a request whose answer was lost,
// which may or may not have been stored), and the marker must be the session's own. What a user of
// a replicated cluster would check after a crash: nothing lost, nothing mixed up.
import http from 'node:http'
import { cookieOf, type JsonResponse, request, type StaleConnectionError } from './http-client.js'

/** One session and what its client has seen of it. */
export interface CounterSession {
  readonly marker: string
  readonly cookie: string
  /** Route of the worker that created it. */
  readonly route: string
  /** The last counter value the server answered. */
  count: number
  /** The last request failed: its write may or may not have been stored. */
  uncertain: boolean
  /** That failure, marked `landed` once the next answer shows its write was stored after all. */
  lastFailure?: Failure | undefined
  /** Workers (by route) that answered it. */
  readonly answeredBy: Set<string>
}

/** Something a client saw that must not happen. */
export interface Anomaly {
  readonly marker: string
  readonly kind: 'backwards' | 'skipped' | 'foreign' | 'lost'
  readonly expected: number
  readonly got: unknown
  readonly route: unknown
  readonly at: number
}

/** A request that got no counter answer: an error status, a broken connection or a timeout. */
export interface Failure {
  /** When the client noticed the failure. */
  readonly at: number
  /** When the request was sent (the same as `at` when unknown). */
  readonly sentAt?: number
  readonly error: string
  /** The HTTP status, when an answer came. */
  readonly status?: number
  /** The Retry-After header of that answer. */
  readonly retryAfter?: string
  /** The client (of a counter load) that sent it. */
  readonly client?: number
  /** Sent on a pooled connection that the server had closed meanwhile (see StaleConnectionError). */
  readonly stale?: boolean
  /** The next answer of its session showed that its write was stored: it did run. */
  landed?: boolean
}

export interface CounterLoad {
  readonly requests: () => number
  readonly failures: Failure[]
  readonly anomalies: Anomaly[]
  /** Per client, when each of its checked answers arrived (ms since epoch, in order). */
  readonly answeredAt: number[][]
  stop(): Promise<void>
}

/** Creates `count` sessions, each marked with its own `user`, through the cluster's first-visit spreading. */
export async function createCounterSessions(
  port: number,
  count: number,
  prefix = 's',
): Promise<CounterSession[]> {
  const sessions: CounterSession[] = []
  const agent = new http.Agent({ keepAlive: false })
  for (let i = 0; i < count; i++) {
    const marker = `${prefix}${i}-${Math.random().toString(36).slice(2, 8)}`
    const response = await request(port, `/?user=${marker}`, { agent })
    sessions.push({
      marker,
      cookie: cookieOf(response),
      route: String(response.body.route),
      count: Number(response.body.count),
      uncertain: false,
      answeredBy: new Set([String(response.body.route)]),
    })
  }
  return sessions
}

/**
 * Checks one answer against what the session's client knows, and updates that. Returns the
 * anomaly, if any; a lost session (a fresh one answered instead) counts as `lost`.
 */
export function checkAnswer(session: CounterSession, body: Record<string, unknown>): Anomaly | undefined {
  const got = body.count
  const at = Date.now()
  const base = { marker: session.marker, expected: session.count + 1, got, route: body.route, at }
  if (body.user === null || got === 0) return { ...base, kind: 'lost' }
  if (body.user !== session.marker) return { ...base, kind: 'foreign' }
  const n = Number(got)
  if (n <= session.count) {
    session.count = n
    return { ...base, kind: 'backwards' }
  }
  const allowed = session.uncertain ? 2 : 1
  session.uncertain = false
  if (n > session.count + allowed) {
    session.count = n
    return { ...base, kind: 'skipped' }
  }
  session.count = n
  session.answeredBy.add(String(body.route))
  return undefined
}

/** One request of a session's client, checked. True when it got a counter answer. */
export async function step(
  port: number,
  session: CounterSession,
  agent: http.Agent | false,
  anomalies: Anomaly[],
  failures: Failure[],
  client?: number,
): Promise<boolean> {
  let response: JsonResponse
  const sentAt = Date.now()
  try {
    response = await request(port, '/', { agent, headers: { cookie: session.cookie }, timeout: 10_000 })
  } catch (error) {
    failed(session, failures, {
      at: Date.now(),
      sentAt,
      error: (error as Error).message,
      ...(client !== undefined && { client }),
      ...((error as StaleConnectionError).staleConnection === true && { stale: true }),
    })
    return false
  }
  // Answered by a worker that no longer serves the session (its owner is back): ask again.
  if (response.body.misrouted === true) return false
  if (response.status !== 200) {
    const retryAfter = response.headers['retry-after']
    failed(session, failures, {
      at: Date.now(),
      sentAt,
      error: `status ${response.status}`,
      status: response.status,
      ...(retryAfter !== undefined && { retryAfter }),
      ...(client !== undefined && { client }),
    })
    return false
  }
  const before = session.count
  const anomaly = checkAnswer(session, response.body)
  if (anomaly !== undefined) anomalies.push(anomaly)
  else if (session.lastFailure !== undefined && session.count === before + 2)
    session.lastFailure.landed = true
  session.lastFailure = undefined
  return true
}

/** Records a failed request: its write may or may not have been stored. */
function failed(session: CounterSession, failures: Failure[], failure: Failure): void {
  session.uncertain = true
  session.lastFailure = failure
  failures.push(failure)
}

/**
 * `concurrency` clients, each owning every concurrency-th session and sending its requests one
 * after another (so one session never has two requests in flight): a new connection each, or with
 * `keepAlive` one pooled connection per session, as each session were a browser of its own.
 */
export function startCounterLoad(
  port: number,
  sessions: readonly CounterSession[],
  concurrency: number,
  options: { keepAlive?: boolean } = {},
): CounterLoad {
  let running = true
  let requests = 0
  const failures: Failure[] = []
  const anomalies: Anomaly[] = []
  const answeredAt: number[][] = Array.from({ length: concurrency }, () => [])
  const agents = sessions.map(() =>
    options.keepAlive === true ? new http.Agent({ keepAlive: true, maxSockets: 1 }) : false,
  )
  const clients = Array.from({ length: concurrency }, async (_, c) => {
    const mine = sessions.flatMap((_, i) => (i % concurrency === c ? [i] : []))
    for (let k = 0; running && mine.length > 0; k = (k + 1) % mine.length) {
      const i = mine[k]!
      if (await step(port, sessions[i]!, agents[i]!, anomalies, failures, c)) answeredAt[c]!.push(Date.now())
      requests++
    }
  })
  return {
    requests: () => requests,
    failures,
    anomalies,
    answeredAt,
    async stop() {
      running = false
      await Promise.all(clients)
      for (const agent of agents) if (agent !== false) agent.destroy()
    },
  }
}

/** Sends one checked request for every session (a final read), `concurrency` at a time. */
export async function checkEverySession(
  port: number,
  sessions: readonly CounterSession[],
  concurrency = 16,
): Promise<{ anomalies: Anomaly[]; failures: Failure[] }> {
  const anomalies: Anomaly[] = []
  const failures: Failure[] = []
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < sessions.length) await step(port, sessions[next++]!, false, anomalies, failures)
    }),
  )
  return { anomalies, failures }
}
