// The cluster bench/replication.ts measures: 4 workers of a counter app (one session write per
// request, MemoryStore), with `replication` from argv[2] (off | async | sync). Forked with IPC:
// tells its parent {port} once it listens and answers 'metrics' with cluster.metrics().
import http from 'node:http'
import { startCluster } from '@tether/cluster'
import { SessionManager } from '@tether/core'

const replication = (process.argv[2] ?? 'off') as 'off' | 'async' | 'sync'
const SECRET = 'bench-secret-bench-secret-bench-secret!'

function counterApp(): http.Server {
  const manager = new SessionManager({ secret: SECRET })
  return http.createServer(async (req, res) => {
    const ctx = manager.openNow(req.headers.cookie) ?? (await manager.open(req.headers.cookie))
    try {
      const count = ((ctx.session.get('count') as number | undefined) ?? 0) + 1
      ctx.session.set('count', count)
      const setCookie = await ctx.commit(false)
      if (setCookie !== undefined) res.setHeader('set-cookie', setCookie)
      res.setHeader('content-type', 'application/json')
      res.end(`{"route":"${process.env.TETHER_ROUTE}","count":${count}}`)
    } finally {
      ctx.release()
    }
  })
}

const cluster = await startCluster(
  { workers: Number(process.env.BENCH_WORKERS ?? 4), host: '127.0.0.1', secret: SECRET, replication },
  counterApp,
)
process.send?.({ port: cluster.port })
process.on('message', (message) => {
  if (message === 'metrics') process.send?.({ metrics: cluster.metrics() })
  else if (message === 'close') void cluster.close().then(() => process.exit(0))
})
