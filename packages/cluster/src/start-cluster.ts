import cluster from 'node:cluster'
import { createServer } from 'node:net'
import { ROUTE_ENV } from '@tether/core/adapter'
import { Cluster } from './cluster.js'
import { Connection } from './connection.js'
import { acceptBareHandles, checkNodeInternals } from './node-internals.js'
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
  const missing = checkNodeInternals()
  if (missing.length > 0) {
    process.emitWarning(`@tether/cluster on Node.js ${process.version} lacks ${missing.join('; ')}`, {
      type: 'TetherWarning',
      code: 'TETHER_NODE_INTERNALS',
    })
  }
  if (resolved.replication !== 'off' && resolved.workers < 2) {
    process.emitWarning(
      `replication: '${resolved.replication}' with 1 worker: there is no other worker to keep the copies, so sessions are still lost when it exits`,
      { type: 'TetherWarning', code: 'TETHER_REPLICATION_NO_BACKUP' },
    )
  }
  const supervisor = new Supervisor(resolved)
  const router = new Router(resolved, supervisor)
  await supervisor.start()
  const server = createServer()
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen({ port: resolved.port, host: resolved.host }, () => {
        server.off('error', reject)
        try {
          // Runs before the event loop polls the new listener: no connection is accepted before.
          acceptBareHandles(server, (handle) => router.handle(new Connection(handle)))
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
  return new Cluster(server, supervisor, router, resolved.handleSignals)
}
