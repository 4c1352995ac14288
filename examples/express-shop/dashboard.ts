// The live dashboard: a page, a Server-Sent Events stream of the cluster's metrics (asked of the
// primary once a second while someone watches), the demo's kill control, and /metrics for
// Prometheus. None of it needs the visitor's session, so it is mounted before the session
// middleware: a stream that stays open for minutes holds no session.
import {
  type ClusterMetricsSnapshot,
  clusterMetrics,
  drainSignal,
  registerClusterPrometheus,
} from '@tether/cluster'
import express, { type Request, type Response, Router } from 'express'
import { Registry } from 'prom-client'
import { layout } from './pages.js'

/** How often the stream sends the cluster's figures. */
const SAMPLE_MS = 1000
/** Samples kept for a page that opens now: the chart's last minute. */
const KEPT_SAMPLES = 61

interface Sample {
  readonly at: number
  readonly metrics: ClusterMetricsSnapshot
}

/** Asks the primary once a second while at least one page listens; keeps the last minute. */
class Sampler {
  readonly #clients = new Set<Response>()
  readonly #samples: Sample[] = []
  #timer: NodeJS.Timeout | undefined

  add(res: Response): void {
    for (const sample of this.#samples) res.write(`data: ${JSON.stringify(sample)}\n\n`)
    this.#clients.add(res)
    if (this.#timer === undefined) {
      void this.#sample()
      this.#timer = setInterval(() => void this.#sample(), SAMPLE_MS)
    }
  }

  remove(res: Response): void {
    this.#clients.delete(res)
    if (this.#clients.size === 0) {
      clearInterval(this.#timer)
      this.#timer = undefined
    }
  }

  async #sample(): Promise<void> {
    let event: string
    try {
      const sample: Sample = { at: Date.now(), metrics: await clusterMetrics() }
      this.#samples.push(sample)
      if (this.#samples.length > KEPT_SAMPLES) this.#samples.shift()
      event = `data: ${JSON.stringify(sample)}\n\n`
    } catch (error) {
      event = `event: problem\ndata: ${JSON.stringify({ message: (error as Error).message })}\n\n`
    }
    for (const res of this.#clients) res.write(event)
  }
}

function dashboardPage(killControl: boolean): string {
  const worker = { name: process.env.TETHER_ROUTE ?? 'single process', pid: process.pid }
  const body = `<section class="panel" id="you" data-testid="you">
  <h2>Your session</h2>
  <p data-testid="your-session">Looking for your session…</p>
</section>
<p class="flash" id="notice" role="status" hidden></p>
<section>
  <h2>Workers</h2>
  <div class="workers" id="workers" data-testid="workers"></div>
  <p class="hint" id="copies" hidden>With replication, each session is held twice: by the worker it belongs to and by its backup, so the session counts include the copies.</p>
</section>
<section class="panel">
  <h2>Requests per second, last minute</h2>
  <svg id="chart" class="chart" viewBox="0 0 600 180" role="img" aria-label="requests per second per worker"></svg>
  <p class="legend" id="legend"></p>
</section>
<section class="panels">
  <article class="panel"><h2>Routing</h2><table class="counters" id="routing" data-testid="routing"></table></article>
  <article class="panel"><h2>Replication</h2><table class="counters" id="replication" data-testid="replication"></table></article>
</section>
<p class="hint">Figures from the cluster's primary, streamed once a second (Server-Sent Events). Also as <a href="/metrics">Prometheus text</a>.${
    killControl ? ' Kill sends SIGKILL to that worker: the demo lets you, a real app must not.' : ''
  }</p>
<script src="/dashboard.js" defer></script>`
  return layout('Tether dashboard', worker, body, true).replace(
    '<body>',
    `<body class="dashboard" data-kill="${killControl ? 'on' : 'off'}">`,
  )
}

/** The dashboard's routes: /dashboard, /dashboard/events, /dashboard/kill (when enabled), /metrics. */
export function createDashboard(options: { killControl: boolean }): Router {
  const router = Router()
  const sampler = new Sampler()
  const registry = new Registry()
  const registered = registerClusterPrometheus(registry)

  router.get('/dashboard', (_req, res) => {
    res.set('cache-control', 'no-store').type('html').send(dashboardPage(options.killControl))
  })

  router.get('/dashboard/events', (req: Request, res: Response) => {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    })
    // After a worker dies the browser reconnects within a second, through the router again.
    res.write('retry: 1000\n\n')
    // A draining worker (reload, Ctrl-C) ends its streams rather than waiting out drainTimeout.
    const draining = drainSignal()
    if (draining.aborted) {
      res.end()
      return
    }
    const end = () => res.end()
    draining.addEventListener('abort', end, { once: true })
    sampler.add(res)
    req.on('close', () => {
      draining.removeEventListener('abort', end)
      sampler.remove(res)
    })
  })

  router.post('/dashboard/kill', express.json({ limit: '1kb' }), async (req: Request, res: Response) => {
    // JSON only: a cross-site form cannot send it without the browser asking this server first.
    if (!options.killControl || !req.is('application/json')) {
      res.status(404).json({ error: 'not found' })
      return
    }
    const route = (req.body as { worker?: unknown } | undefined)?.worker
    const slot = (await clusterMetrics()).slots.find((s) => s.route === route)
    if (slot?.pid === undefined) {
      res.status(409).json({ error: 'no such worker running' })
      return
    }
    const pid = slot.pid
    // Killing the worker that answers is allowed too: the answer goes out first.
    res.on('finish', () => process.kill(pid, 'SIGKILL'))
    res.status(202).json({ killed: slot.route, pid })
  })

  router.get('/metrics', async (_req, res) => {
    await registered
    try {
      res.type(registry.contentType).send(await registry.metrics())
    } catch (error) {
      res
        .status(503)
        .type('text')
        .send((error as Error).message)
    }
  })

  return router
}
