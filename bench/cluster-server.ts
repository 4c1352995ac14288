// One of the three clusters compared by bench/cluster-http.ts, all serving the same trivial app
// with 2 workers: `node --import tsx --conditions=tether-source bench/cluster-server.ts <mode>`
// where mode is node-cluster | socket-io-sticky | tether. Prints {"port":N} once it listens.
import cluster from 'node:cluster'
import { EventEmitter } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { setupMaster, setupWorker } from '@socket.io/sticky'
import { startCluster } from '@tether/cluster'

const mode = process.argv[2]
const WORKERS = Number(process.env.BENCH_WORKERS ?? 2)
const app = (_req: http.IncomingMessage, res: http.ServerResponse) => {
  res.setHeader('content-type', 'text/plain')
  res.end(`ok ${process.env.TETHER_ROUTE ?? process.pid}\n`)
}
const report = (port: number) => console.log(JSON.stringify({ port }))

if (mode === 'tether') {
  const c = await startCluster(
    { workers: WORKERS, port: 0, host: '127.0.0.1', handleSignals: true }, // the default strategies
    () => app,
  )
  report(c.port)
} else if (mode === 'node-cluster') {
  // Node's own round-robin: the primary accepts and passes handles, no affinity at all.
  if (cluster.isPrimary) {
    for (let i = 0; i < WORKERS; i++) cluster.fork()
    let reported = false
    cluster.on('listening', (_worker, address) => {
      if (!reported) report(address.port)
      reported = true
    })
    process.on('SIGTERM', () => {
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL')
      process.exit(0)
    })
  } else {
    http.createServer(app).listen(0, '127.0.0.1')
  }
} else if (mode === 'socket-io-sticky') {
  if (cluster.isPrimary) {
    const server = http.createServer()
    // As @socket.io/sticky's README shows: the request data it passes to workers over IPC needs
    // the advanced serialization (with the default JSON one the workers answer nothing).
    cluster.setupPrimary({ serialization: 'advanced' })
    setupMaster(server, { loadBalancingMethod: 'least-connection' })
    for (let i = 0; i < WORKERS; i++) cluster.fork()
    let ready = 0
    cluster.on('online', () => {
      if (++ready === WORKERS)
        server.listen(0, '127.0.0.1', () => report((server.address() as AddressInfo).port))
    })
    process.on('SIGTERM', () => {
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL')
      process.exit(0)
    })
  } else {
    // setupWorker only touches io.httpServer (a plain server it feeds, never listening) and
    // io.engine (socket.io's engine, for its own connection counting).
    setupWorker({ httpServer: http.createServer(app), engine: new EventEmitter() } as never)
  }
} else {
  console.error('usage: cluster-server.ts node-cluster|socket-io-sticky|tether')
  process.exit(2)
}
