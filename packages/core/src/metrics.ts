/** The counters Tether keeps. Labels never contain tokens or store ids. */
export interface MetricsCounters {
  /** Sessions stored for the first time. */
  created: number
  /** Sessions ended by `destroy()`. */
  destroyed: number
  /** Sessions found past their idle or absolute timeout and removed. */
  expired: number
  /** `regenerate()` calls. */
  regenerated: number
  /** Throttled activity writes of unchanged sessions. */
  touched: number
  /** Loads of a signed cookie that found its session. */
  loadHits: number
  /** Loads of a signed cookie whose session was gone. */
  loadMisses: number
  /** Cookies rejected for their shape (length, alphabet, dots). */
  rejectedFormat: number
  /** Well-formed cookies whose MAC did not verify (forged, tampered, or signed by a retired secret). */
  rejectedMac: number
  /** Stored sessions that failed to decrypt or parse, treated as no session and deleted. */
  decryptFailures: number
  /** Store operations that failed (each answered with a 503). */
  storeErrors: number
  /** Cookies re-issued because an older secret had signed them. */
  reissued: number
  /** HybridStore reads served from its local cache. */
  cacheHits: number
  /** HybridStore reads that went to the backing store. */
  cacheMisses: number
  /** Anonymous sessions a bounded store evicted to make room. */
  evictions: number
  /** Requests answered with `Connection: close` because their session belongs to another worker. */
  misroutes: number
}

export type CounterName = keyof MetricsCounters

/** A point-in-time view, safe to serialise as JSON. */
export interface MetricsSnapshot extends MetricsCounters {
  /** loadHits / (loadHits + loadMisses), or 0 before the first load. */
  hitRate: number
  /** Sessions stored right now, where the store can tell (MemoryStore can, Redis cannot cheaply). */
  active?: number
  /**
   * The client addresses that sent the most rejected cookies (bad shape or signature), most first:
   * a brute-force signal. At most 10 here, from a table of the 1,000 most recently seen addresses.
   */
  rejectedByClient: Array<{ client: string; count: number }>
}

/** Client addresses whose rejected cookies are counted; the least recently seen is forgotten first. */
const TRACKED_CLIENTS = 1000
/** Addresses in a snapshot. */
const TOP_CLIENTS = 10

const COUNTER_HELP: Record<CounterName, string> = {
  created: 'Sessions created',
  destroyed: 'Sessions destroyed',
  expired: 'Sessions removed after their idle or absolute timeout',
  regenerated: 'Session ids regenerated',
  touched: 'Unchanged sessions touched',
  loadHits: 'Signed cookies whose session was found',
  loadMisses: 'Signed cookies whose session was gone',
  rejectedFormat: 'Cookies rejected for a malformed value',
  rejectedMac: 'Cookies rejected for a bad signature',
  decryptFailures: 'Stored sessions that failed to decrypt or parse',
  storeErrors: 'Failed session store operations',
  reissued: 'Cookies re-issued under the newest secret',
  cacheHits: 'Session reads served from the local cache',
  cacheMisses: 'Session reads that missed the local cache',
  evictions: 'Anonymous sessions evicted to make room',
  misroutes: 'Requests for a session owned by another worker',
}

function zeroCounters(): MetricsCounters {
  const counters = {} as MetricsCounters
  for (const name of Object.keys(COUNTER_HELP) as CounterName[]) counters[name] = 0
  return counters
}

/**
 * Counters for one session manager (and the stores it drives).
 *
 * @example
 * const metrics = new Metrics()
 * app.use(stickySession({ secret, metrics }))
 * app.get('/metrics.json', async (_req, res) => res.json(await metrics.snapshot()))
 */
export class Metrics {
  readonly #counters = zeroCounters()
  /** Rejected cookies by client address, least recently seen first (Map order), bounded. */
  readonly #rejectedBy = new Map<string, number>()
  /** Counts live stored sessions, set by the manager from its store when the store can tell. */
  activeCount: (() => Promise<number>) | undefined

  increment(name: CounterName, by = 1): void {
    this.#counters[name] += by
  }

  get(name: CounterName): number {
    return this.#counters[name]
  }

  /** Counts `count` rejected cookies from `client` (an address; the adapters pass the request's). */
  countRejectedFrom(client: string | undefined, count: number): void {
    if (client === undefined || client === '' || count <= 0) return
    const previous = this.#rejectedBy.get(client)
    if (previous !== undefined) this.#rejectedBy.delete(client)
    else if (this.#rejectedBy.size >= TRACKED_CLIENTS) {
      this.#rejectedBy.delete(this.#rejectedBy.keys().next().value as string)
    }
    this.#rejectedBy.set(client, (previous ?? 0) + count)
  }

  /** Every counter, the hit rate, and the active count when the store can tell it. */
  async snapshot(): Promise<MetricsSnapshot> {
    const c = this.#counters
    const loads = c.loadHits + c.loadMisses
    const rejectedByClient = [...this.#rejectedBy]
      .sort((a, b) => b[1] - a[1])
      .slice(0, TOP_CLIENTS)
      .map(([client, count]) => ({ client, count }))
    const snapshot: MetricsSnapshot = {
      ...c,
      hitRate: loads === 0 ? 0 : c.loadHits / loads,
      rejectedByClient,
    }
    if (this.activeCount !== undefined) {
      try {
        snapshot.active = await this.activeCount()
      } catch {
        // A store that cannot count right now must not break a metrics scrape.
      }
    }
    return snapshot
  }

  /**
   * Exposes the counters in a prom-client registry (prom-client is an optional peer dependency:
   * install it in the app). Values are read at scrape time; nothing is added to the request path.
   *
   * @example
   * import { Registry } from 'prom-client'
   * const registry = new Registry()
   * await metrics.registerPrometheus(registry)
   */
  async registerPrometheus(registry: PrometheusRegistry, options: { prefix?: string } = {}): Promise<void> {
    const prom = (await import('prom-client')) as unknown as PromClient
    const prefix = options.prefix ?? 'tether_'
    const counters = this.#counters
    for (const name of Object.keys(COUNTER_HELP) as CounterName[]) {
      const metricName = `${prefix}${name.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`)}_total`
      new prom.Counter({
        name: metricName,
        help: COUNTER_HELP[name],
        registers: [registry],
        collect() {
          this.reset()
          this.inc(counters[name])
        },
      })
    }
    const metrics = this
    new prom.Gauge({
      name: `${prefix}active_sessions`,
      help: 'Sessions stored right now (where the store can tell)',
      registers: [registry],
      async collect() {
        if (metrics.activeCount !== undefined) this.set(await metrics.activeCount())
      },
    })
  }
}

/** The parts of prom-client used here, typed structurally so prom-client stays optional. */
export interface PrometheusRegistry {
  registerMetric(metric: unknown): void
}
interface PromMetricThis {
  reset(): void
  inc(value: number): void
  set(value: number): void
}
interface PromClient {
  Counter: new (config: {
    name: string
    help: string
    registers: PrometheusRegistry[]
    collect(this: PromMetricThis): void
  }) => unknown
  Gauge: new (config: {
    name: string
    help: string
    registers: PrometheusRegistry[]
    collect(this: PromMetricThis): Promise<void>
  }) => unknown
}
