import { clusterMetrics } from './cluster-metrics.js'
import type { ClusterMetricsSnapshot } from './metrics.js'

// The cluster's figures as Prometheus metrics through the app's prom-client registry (an optional
// peer dependency). Values are read from the primary at scrape time, once per scrape however many
// metrics ask: nothing is added to the request path.

/** The parts of prom-client used here, typed structurally so prom-client stays optional. */
export interface PrometheusRegistry {
  registerMetric(metric: unknown): void
}

export interface ClusterPrometheusOptions {
  /** @default 'tether_cluster_' */
  prefix?: string
  /**
   * Where the figures come from. @default clusterMetrics (inside a worker); in the primary pass
   * `() => cluster.metrics()`.
   */
  source?: () => ClusterMetricsSnapshot | Promise<ClusterMetricsSnapshot>
}

type Labels = Record<string, string>
interface MetricThis {
  reset(): void
  set(labels: Labels, value: number): void
  inc(labels: Labels, value: number): void
}
interface PromClient {
  Counter: new (config: MetricConfig) => unknown
  Gauge: new (config: MetricConfig) => unknown
}
interface MetricConfig {
  name: string
  help: string
  labelNames: string[]
  registers: PrometheusRegistry[]
  collect(this: MetricThis): Promise<void>
}

/** One metric: its kind, help, label names, and its samples read from a snapshot. */
interface Definition {
  readonly kind: 'Counter' | 'Gauge'
  readonly help: string
  readonly labels?: string[]
  readonly samples: (m: ClusterMetricsSnapshot) => Array<[Labels, number]>
}

const one = (value: number): Array<[Labels, number]> => [[{}, value]]
const perWorker =
  (read: (slot: ClusterMetricsSnapshot['slots'][number]) => number) =>
  (m: ClusterMetricsSnapshot): Array<[Labels, number]> =>
    m.slots.map((slot) => [{ worker: slot.route }, read(slot)])
const byKey =
  (label: string, read: (m: ClusterMetricsSnapshot) => Readonly<Record<string, number>>) =>
  (m: ClusterMetricsSnapshot): Array<[Labels, number]> =>
    Object.entries(read(m)).map(([key, value]) => [{ [label]: key }, value])

const DEFINITIONS: Record<string, Definition> = {
  routed_total: {
    kind: 'Counter',
    help: 'Connections handed to a worker, by what decided the worker',
    labels: ['by'],
    samples: byKey('by', (m) => m.routedBy),
  },
  fallbacks_total: {
    kind: 'Counter',
    help: "Connections whose worker was down, sent to the ring's pick",
    samples: (m) => one(m.fallbacks),
  },
  misroutes_total: {
    kind: 'Counter',
    help: 'Requests that reached a worker not owning their session',
    samples: (m) => one(m.misroutes),
  },
  rejected_total: {
    kind: 'Counter',
    help: 'Connections the primary answered itself, by reason',
    labels: ['reason'],
    samples: byKey('reason', (m) => m.rejected),
  },
  aborted_total: {
    kind: 'Counter',
    help: 'Connections closed before their request head was complete',
    samples: (m) => one(m.aborted),
  },
  crash_loops_total: {
    kind: 'Counter',
    help: 'Worker slots given up on after crashing too often',
    samples: (m) => one(m.crashLoops),
  },
  hung_total: {
    kind: 'Counter',
    help: 'Workers killed for sending no heartbeat',
    samples: (m) => one(m.hung),
  },
  worker_up: {
    kind: 'Gauge',
    help: '1 while the worker slot is ready to serve, else 0',
    labels: ['worker'],
    samples: perWorker((slot) => (slot.state === 'ready' ? 1 : 0)),
  },
  worker_connections: {
    kind: 'Gauge',
    help: 'Open connections per worker',
    labels: ['worker'],
    samples: perWorker((slot) => slot.connections),
  },
  worker_sessions: {
    kind: 'Gauge',
    help: "Sessions in each worker's in-process stores (backup copies included)",
    labels: ['worker'],
    samples: perWorker((slot) => slot.sessions),
  },
  worker_requests_total: {
    kind: 'Counter',
    help: 'Requests served per worker slot',
    labels: ['worker'],
    samples: perWorker((slot) => slot.requests),
  },
  worker_restarts_total: {
    kind: 'Counter',
    help: 'Restarts per worker slot after unexpected exits',
    labels: ['worker'],
    samples: perWorker((slot) => slot.restarts),
  },
  replication_sent_total: {
    kind: 'Counter',
    help: 'Session changes sent to backups',
    samples: (m) => one(m.replication.sent),
  },
  replication_acknowledged_total: {
    kind: 'Counter',
    help: 'Session changes applied by backups',
    samples: (m) => one(m.replication.acknowledged),
  },
  replication_dropped_total: {
    kind: 'Counter',
    help: 'Session changes dropped at a full queue (sent again whole later)',
    samples: (m) => one(m.replication.dropped),
  },
  replication_unacknowledged_total: {
    kind: 'Counter',
    help: 'Writes answered before their backup acknowledged them (sync, after the timeout)',
    samples: (m) => one(m.replication.unacknowledged),
  },
  replication_lag_seconds: {
    kind: 'Gauge',
    help: 'Age of the oldest change not yet acknowledged by its backup',
    samples: (m) => one(m.replication.lagMs / 1000),
  },
}

/**
 * Registers the cluster's metrics (routing, per-worker connections, sessions and requests,
 * restarts, replication) in a prom-client registry, each labelled by worker route where it is
 * per worker. Call it in each worker (or in the primary with `source`); every scrape asks the
 * primary once.
 *
 * @example
 * const registry = new Registry()
 * await registerClusterPrometheus(registry)
 * app.get('/metrics', async (_req, res) => res.type(registry.contentType).send(await registry.metrics()))
 */
export async function registerClusterPrometheus(
  registry: PrometheusRegistry,
  options: ClusterPrometheusOptions = {},
): Promise<void> {
  const prom = (await import('prom-client')) as unknown as PromClient
  const prefix = options.prefix ?? 'tether_cluster_'
  const source = options.source ?? clusterMetrics
  // One read per scrape: the metrics of a scrape are collected together, within one turn.
  let current: Promise<ClusterMetricsSnapshot> | undefined
  const read = () => {
    if (current === undefined) {
      current = Promise.resolve(source())
      setImmediate(() => {
        current = undefined
      })
    }
    return current
  }
  for (const [name, definition] of Object.entries(DEFINITIONS)) {
    new prom[definition.kind]({
      name: `${prefix}${name}`,
      help: definition.help,
      labelNames: definition.labels ?? [],
      registers: [registry],
      async collect() {
        const snapshot = await read()
        this.reset()
        for (const [labels, value] of definition.samples(snapshot)) {
          if (definition.kind === 'Gauge') this.set(labels, value)
          else this.inc(labels, value)
        }
      },
    })
  }
}
