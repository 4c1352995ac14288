// A sticky-session cluster of an Express app. From the repository root:
//   node --import tsx --conditions=tether-source examples/cluster-demo/server.ts
// (WORKERS, PORT, HOST and SESSION_SECRET from the environment.)
import { startCluster } from '@tether/cluster'
import { createApp } from './app.js'

const DEMO_SECRET = 'tether-demo-secret-do-not-use-in-production'
const secret = process.env.SESSION_SECRET ?? DEMO_SECRET

const cluster = await startCluster(
  {
    workers: Number(process.env.WORKERS ?? 2),
    port: Number(process.env.PORT ?? 3002),
    host: process.env.HOST ?? '127.0.0.1',
    secret, // the primary checks the cookie's MAC before trusting its route
  },
  () => createApp(secret),
)
// From here on, only the primary runs.
if (secret === DEMO_SECRET) console.warn('SESSION_SECRET is not set: using the fixed demo secret.')
cluster.on('exit', (route: string, code: number | null, signal: string | null, planned: boolean) => {
  if (planned) return // reload(), Ctrl-C: the cluster stopped it on purpose
  console.log(`worker ${route} exited (${signal ?? `code ${code}`}); it is being replaced`)
})
console.log(
  `cluster of ${cluster.workers.length} workers on http://${cluster.address.address}:${cluster.port}`,
)
