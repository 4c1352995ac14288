import { ROUTE_ENV } from '@tether/core/adapter'
import { isTetherMessage, type MetricsReplyMessage, type MetricsRequestMessage } from './messages.js'
import type { ClusterMetricsSnapshot } from './metrics.js'
import { PendingReplies } from './pending-replies.js'

// A worker asks its primary for the cluster's figures over the IPC channel they already share:
// the primary is the only process that sees the router and every worker.

/** How long a worker waits for the primary's answer. */
const REPLY_TIMEOUT_MS = 2000

const replies = new PendingReplies<ClusterMetricsSnapshot>(
  REPLY_TIMEOUT_MS,
  `the cluster's primary did not answer within ${REPLY_TIMEOUT_MS} ms`,
)
let listening = false

function onMessage(message: unknown): void {
  if (!isTetherMessage(message) || message.tether !== 'metrics') return
  const reply = message as MetricsReplyMessage
  replies.resolve(reply.ref, reply.metrics)
}

/**
 * The whole cluster's metrics (what `cluster.metrics()` gives in the primary), from inside a
 * worker: for an app's dashboard or metrics endpoint. Rejects outside a worker of startCluster()
 * and when the primary does not answer within 2 s.
 *
 * @example
 * app.get('/cluster.json', async (_req, res) => res.json(await clusterMetrics()))
 */
export function clusterMetrics(): Promise<ClusterMetricsSnapshot> {
  if (process.env[ROUTE_ENV] === undefined || typeof process.send !== 'function' || !process.connected) {
    return Promise.reject(new Error('clusterMetrics() works only inside a worker started by startCluster()'))
  }
  if (!listening) {
    listening = true
    process.on('message', onMessage)
  }
  return replies.request((ref) => {
    const request: MetricsRequestMessage = { tether: 'metrics-request', ref }
    process.send?.(request, undefined, {}, (error) => {
      if (error !== null)
        replies.reject(ref, new Error(`could not ask the cluster's primary: ${error.message}`))
    })
  })
}
