import { stickySession } from '@tether/express'
import express from 'express'

/** The demo app: every page says which worker answered and counts visits in the session. */
export function createApp(secret: string) {
  const app = express()
  app.use(stickySession({ secret }))

  app.get('/', (req, res) => {
    const visits = ((req.session.get('visits') as number | undefined) ?? 0) + 1
    req.session.set('visits', visits)
    res.json({ worker: process.env.TETHER_ROUTE, pid: process.pid, visits })
  })

  // Kills the worker that serves it, to watch the failover and the restart.
  app.post('/crash', (_req, res) => {
    res.json({ crashing: process.env.TETHER_ROUTE, pid: process.pid })
    res.on('finish', () => process.exit(1))
  })

  return app
}
