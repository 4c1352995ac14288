// One Tether node: a cluster primary and its workers under NODE_NAME, sessions in Redis (or a
// Redis Cluster), so that another node can carry on a session when this one is gone. Run one per
// machine, each with its own NODE_NAME and the same SESSION_SECRET, behind haproxy.cfg:
//   NODE_NAME=a PORT=3001 SESSION_SECRET=... node --import tsx node.ts
import { startCluster } from '@tether/cluster'
import { RedisStore } from '@tether/core'
import { createCartApp } from './app.js'
import { connectRedis } from './redis.js'

const DEMO_SECRET = 'tether-demo-secret-do-not-use-in-production'
const secret = process.env.SESSION_SECRET ?? DEMO_SECRET
const nodeName = process.env.NODE_NAME
if (nodeName === undefined || nodeName === '') {
  console.error('NODE_NAME is required: a name per node (a, b…) that haproxy.cfg routes on')
  process.exit(1)
}

const cluster = await startCluster(
  {
    workers: Number(process.env.WORKERS ?? 2),
    port: Number(process.env.PORT ?? 3001),
    host: process.env.HOST ?? '127.0.0.1',
    // Routes become <node>-w0, <node>-w1…: the cookie names its node, which HAProxy routes on.
    nodeName,
    // Every node needs the same secret: any node must verify, and decrypt, any node's sessions.
    secret,
    // Stopping is handled below, to say so in the log.
    handleSignals: false,
  },
  // Runs in each worker: its own Redis connection, ready before the worker takes requests.
  async () => createCartApp({ secret, store: new RedisStore({ client: await connectRedis() }) }),
)

// Only the primary gets here.
if (secret === DEMO_SECRET) console.warn('SESSION_SECRET is not set: using the fixed demo secret.')
const host = cluster.address.address.includes(':') ? `[${cluster.address.address}]` : cluster.address.address
console.log(`node ${nodeName}: ${cluster.workers.length} workers on http://${host}:${cluster.port}`)

// Stop accepting, let the workers finish the requests they have (they exit, closing their Redis
// connections), then exit: HAProxy sends the next requests of these sessions to another node.
const stop = (signal: string) => {
  console.log(`node ${nodeName}: ${signal}, draining`)
  cluster.close().then(
    () => process.exit(0),
    () => process.exit(1),
  )
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
