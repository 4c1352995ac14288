import { ROUTE_ENV } from '@tether/core/adapter'
import { isTetherMessage, type MetricsReplyMessage, type MetricsRequestMessage } from './messages.js'
import type { ClusterMetricsSnapshot } from './metrics.js'

// A worker asks its primary for the cluster's figures over the IPC channel they already share:
// the primary is the only process that sees the router and every worker.

/** How long a worker waits for the primary's answer. */
const REPLY_TIMEOUT_MS = 2000

interface Pending {
  readonly resolve: (metrics: ClusterMetricsSnapshot) => void
  readonly reject: (error: Error) => void
  readonly timer: NodeJS.Timeout
}

const pending = new Map<number, Pending>()
let nextRef = 0
let listening = false

function onMessage(message: unknown): void {
  if (!isTetherMessage(message) || message.tether !== 'metrics') return
  const reply = message as MetricsReplyMessage
  const entry = pending.get(reply.ref)
  if (entry === undefined) return
  pending.delete(reply.ref)
  clearTimeout(entry.timer)
  entry.resolve(reply.metrics)
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
  const ref = nextRef++
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      pending.delete(ref)
      reject(new Error(`the cluster's primary did not answer within ${REPLY_TIMEOUT_MS} ms`))
    }, REPLY_TIMEOUT_MS)
    timer.unref()
    pending.set(ref, { resolve, reject, timer })
    const request: MetricsRequestMessage = { tether: 'metrics-request', ref }
    process.send?.(request, undefined, {}, (error) => {
      if (error === null || !pending.has(ref)) return
      pending.delete(ref)
      clearTimeout(timer)
      reject(new Error(`could not ask the cluster's primary: ${error.message}`))
    })
  })
}
