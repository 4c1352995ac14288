// A socket.io chat on a Tether cluster. From the repository root:
//   node --import tsx --conditions=tether-source examples/socketio-chat/server.ts
// (WORKERS, PORT, HOST and SESSION_SECRET from the environment.)
import cluster from 'node:cluster'
import { setupPrimary } from '@socket.io/cluster-adapter'
import { startCluster } from '@tether/cluster'
import { createChat } from './app.js'

const DEMO_SECRET = 'tether-demo-secret-do-not-use-in-production'
const secret = process.env.SESSION_SECRET ?? DEMO_SECRET

// The primary relays the adapter's messages between the workers.
if (cluster.isPrimary) setupPrimary()

const chat = await startCluster(
  {
    workers: Number(process.env.WORKERS ?? 3),
    port: Number(process.env.PORT ?? 3003),
    host: process.env.HOST ?? '127.0.0.1',
    secret, // signs the engine.io ids, so a forged one cannot steer a connection
  },
  () => createChat(),
)
// Only the primary gets here.
if (secret === DEMO_SECRET) console.warn('SESSION_SECRET is not set: using the fixed demo secret.')
console.log(
  `socket.io chat on a ${chat.workers.length}-worker cluster: http://${chat.address.address}:${chat.port} (Ctrl-C stops it)`,
)
