// Starts the API: `npm start` in this folder (PORT, HOST and SESSION_SECRET from the environment).
import { createApi } from './app.js'

const DEMO_SECRET = 'tether-demo-secret-do-not-use-in-production'
const secret = process.env.SESSION_SECRET ?? DEMO_SECRET
if (secret === DEMO_SECRET) console.warn('SESSION_SECRET is not set: using the fixed demo secret.')

const port = Number(process.env.PORT ?? 3001)
const host = process.env.HOST ?? '127.0.0.1'
const app = await createApi({ secret })

try {
  await app.listen({ port, host })
} catch (error) {
  console.error((error as Error).message)
  process.exit(1)
}
const address = app.server.address()
const bound = typeof address === 'object' && address !== null ? address.port : port
const shown = host.includes(':') ? `[${host}]` : host
console.log(`Tether API listening on http://${shown}:${bound}`)

const stop = () => void app.close()
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
