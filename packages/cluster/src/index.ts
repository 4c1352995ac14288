// The public API of @tether/cluster: what an app needs to run a sticky-session cluster.
export type { Cluster } from './cluster.js'
export { clusterMetrics } from './cluster-metrics.js'
export { drainSignal } from './drain-signal.js'
export { HashRing, type HashRingOptions } from './hash-ring.js'
export type { ClusterMetricsSnapshot, RoutedBy, SlotSnapshot } from './metrics.js'
export type { ClusterOptions } from './options.js'
export {
  type ClusterPrometheusOptions,
  type PrometheusRegistry,
  registerClusterPrometheus,
} from './prometheus.js'
export type { ReplicationMetrics } from './replication/replication-coordinator.js'
export { socketIoId } from './socket-io-id.js'
export { startCluster } from './start-cluster.js'
export type { StrategyName } from './strategies/strategy.js'
export type { AppFactory, ClusterApp, FastifyLike, RequestListener } from './worker.js'
