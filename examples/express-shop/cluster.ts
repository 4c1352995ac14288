// The shop on a Tether cluster: `npm run demo` from the repository root, or `npm run cluster` in
// this folder. Each worker keeps its sessions in its own MemoryStore; the primary sends every
// request to the worker named in the session cookie, so logins and carts stick. With replication,
// every session is copied to a second worker, so a worker killed with kill -9 loses no cart.
import { startCluster } from '@tether/cluster'
import express from 'express'
import { createShop } from './app.js'

const DEMO_SECRET = 'tether-demo-secret-do-not-use-in-production'
const secret = process.env.SESSION_SECRET ?? DEMO_SECRET
// The dashboard's kill buttons: on for the demo on your own machine, DEMO_KILL=0 turns them off.
const killControl = process.env.DEMO_KILL !== '0'
// REPLICATION=off shows what a kill -9 costs without it: the sessions of that worker are gone.
const replication =
  process.env.REPLICATION === 'off' || process.env.REPLICATION === 'async' ? process.env.REPLICATION : 'sync'

const cluster = await startCluster(
  {
    workers: Number(process.env.WORKERS ?? 4),
    port: Number(process.env.PORT ?? 3000),
    host: process.env.HOST ?? '127.0.0.1',
    secret, // the primary checks the cookie's MAC before it trusts the route in it
    replication, // 'sync': a response that changed its session waits until the backup has it
  },
  () => {
    const app = express()
    // Shows which worker answered, to watch the affinity from a browser's network tab or curl -i.
    app.use((_req, res, next) => {
      res.setHeader('X-Tether-Worker', process.env.TETHER_ROUTE ?? '')
      res.setHeader('X-Tether-Worker-Pid', String(process.pid))
      next()
    })
    app.use(createShop({ secret }, { dashboard: true, killControl }).app)
    return app
  },
)

// Only the primary gets here.
if (secret === DEMO_SECRET) console.warn('SESSION_SECRET is not set: using the fixed demo secret.')
const host = cluster.address.address.includes(':') ? `[${cluster.address.address}]` : cluster.address.address
const url = `http://${host}:${cluster.port}`
console.log(`Tether shop on a ${cluster.workers.length}-worker cluster: ${url}`)
console.log(`Live dashboard: ${url}/dashboard · Prometheus: ${url}/metrics · Stop with Ctrl+C`)
const stop = () => void cluster.close().then(() => process.exit(0))
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
