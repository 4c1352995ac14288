import cluster from 'node:cluster'
import { createServer, type Server } from 'node:net'
import { ROUTE_ENV } from '@tether/core/adapter'
import { Cluster } from './cluster.js'
import { Connection, type TcpHandle } from './connection.js'
import { ClusterMetrics } from './metrics.js'
import { type ClusterOptions, resolveClusterOptions } from './options.js'
import { Router } from './router.js'
import { Supervisor } from './supervisor.js'
import { type AppFactory, runWorker } from './worker.js'

/**
 * Starts a sticky-session cluster. Call it from the module that both the primary and the workers
 * run: in the primary it forks the workers, listens, and resolves with the running Cluster once
 * every worker is ready; in a worker it builds the app with `factory` and serves the connections
 * the primary hands over, and never resolves (so code after `await startCluster()` runs only in
 * the primary). Options are validated in both, and bad ones throw a TypeError naming the option.
 *
 * @example
 * import { startCluster } from '@tether/cluster'
 * import { createApp } from './app.js'
 *
 * const cluster = await startCluster({ workers: 4, port: 3000, host: '127.0.0.1' }, () => createApp())
 * console.log(`listening on ${cluster.port}`)
 */
export async function startCluster(options: ClusterOptions, factory: AppFactory): Promise<Cluster> {
  const resolved = resolveClusterOptions(options)
  if (typeof factory !== 'function') {
    throw new TypeError('startCluster(options, factory): factory must be a function that returns the app')
  }
  if (cluster.isWorker && process.env[ROUTE_ENV] !== undefined) return runWorker(resolved, factory)
  const metrics = new ClusterMetrics()
  const supervisor = new Supervisor(resolved, metrics)
  const router = new Router(resolved, supervisor, metrics, (route) => supervisor.countRouted(route))
  await supervisor.start()
  const server = createServer()
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen({ port: resolved.port, host: resolved.host }, () => {
        server.off('error', reject)
        try {
          // Runs before the event loop polls the new listener: no connection is accepted before.
          acceptBareHandles(server, router.handle)
          resolve()
        } catch (error) {
          reject(error)
        }
      })
    })
  } catch (error) {
    server.close()
    await supervisor.close()
    throw error
  }
  return new Cluster(server, supervisor, router, metrics, resolved.handleSignals)
}

/**
 * Takes accepted connections as bare TCP handles, the way node:cluster's round-robin primary
 * does (its listening handle's `onconnection`), instead of letting net.Server wrap each one in a
 * net.Socket that the primary would only take apart again for the hand-off.
 */
function acceptBareHandles(server: Server, take: (connection: Connection) => void): void {
  const listening = (server as unknown as { _handle?: { onconnection?: unknown } | null })._handle
  if (listening === undefined || listening === null || typeof listening.onconnection !== 'function') {
    throw new Error(
      '@tether/cluster: this Node.js version has no listening handle to accept connections from',
    )
  }
  listening.onconnection = (status: number, handle: TcpHandle | undefined) => {
    // An accept error (EMFILE) must not take the primary down; the listener keeps going.
    if (status !== 0 || handle === undefined) return
    take(new Connection(handle))
  }
}
