// The shop on a Tether cluster: `npm run demo` from the repository root, or `npm run cluster` in
// this folder. Each worker keeps its sessions in its own MemoryStore; the primary sends every
// request to the worker named in the session cookie, so logins and carts stick. With replication,
// every session is copied to the other worker, so a worker killed with kill -9 loses no cart.
import { startCluster } from '@tether/cluster'
import express from 'express'
import { createShop } from './app.js'

const DEMO_SECRET = 'tether-demo-secret-do-not-use-in-production'
const secret = process.env.SESSION_SECRET ?? DEMO_SECRET

const cluster = await startCluster(
  {
    workers: Number(process.env.WORKERS ?? 2),
    port: Number(process.env.PORT ?? 3000),
    host: process.env.HOST ?? '127.0.0.1',
    secret, // the primary checks the cookie's MAC before it trusts the route in it
    replication: 'sync', // a response that changed its session waits until the backup has it
  },
  () => {
    const app = express()
    // Shows which worker answered, to watch the affinity from a browser's network tab or curl -i.
    app.use((_req, res, next) => {
      res.setHeader('X-Tether-Worker', process.env.TETHER_ROUTE ?? '')
      res.setHeader('X-Tether-Worker-Pid', String(process.pid))
      next()
    })
    app.use(createShop({ secret }).app)
    return app
  },
)

// Only the primary gets here.
if (secret === DEMO_SECRET) console.warn('SESSION_SECRET is not set: using the fixed demo secret.')
const host = cluster.address.address.includes(':') ? `[${cluster.address.address}]` : cluster.address.address
console.log(`Tether shop on a ${cluster.workers.length}-worker cluster: http://${host}:${cluster.port}`)
const stop = () => void cluster.close().then(() => process.exit(0))
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
