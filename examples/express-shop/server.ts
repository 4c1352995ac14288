// Starts the shop: `npm run demo` from the repository root, or `npm start` in this folder.
import { createShop } from './app.js'

const DEMO_SECRET = 'tether-demo-secret-do-not-use-in-production'
const secret = process.env.SESSION_SECRET ?? DEMO_SECRET
if (secret === DEMO_SECRET) console.warn('SESSION_SECRET is not set: using the fixed demo secret.')

const port = Number(process.env.PORT ?? 3000)
const host = process.env.HOST ?? '127.0.0.1'
const { app, sessions } = createShop({ secret })

const server = app.listen(port, host, () => {
  const address = server.address()
  const bound = typeof address === 'object' && address !== null ? address.port : port
  const shown = host.includes(':') ? `[${host}]` : host
  console.log(`Tether shop listening on http://${shown}:${bound}`)
})
server.on('error', (error) => {
  console.error(error.message)
  process.exit(1)
})

const stop = () => {
  server.close(() => void sessions.close())
  server.closeIdleConnections()
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
