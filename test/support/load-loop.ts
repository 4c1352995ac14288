// Keeps a steady stream of requests going against a server until stopped, recording every outcome.
import http from 'node:http'
import { request } from './http-client.js'

/** One finished request of a load loop. */
export interface LoadSample {
  /** Index of the session (cookie) the request carried. */
  session: number
  at: number
  status?: number
  body?: Record<string, unknown>
  error?: string
}

/** A running load loop. */
export interface LoadLoop {
  readonly samples: LoadSample[]
  /** Stops issuing requests and resolves once every request in flight has settled. */
  stop(): Promise<LoadSample[]>
}

/**
 * Runs `concurrency` clients, each sending requests with the cookies in turn, back to back. With
 * `keepAlive`, each cookie has its own pooled keep-alive agent (like one browser per session);
 * otherwise each request is a new connection.
 * A request that takes longer than `timeout` counts as an error ("timed out"), so a hang shows.
 */
export function startLoad(options: {
  port: number
  cookies: readonly string[]
  concurrency: number
  keepAlive: boolean
  path?: string
  timeout?: number
}): LoadLoop {
  const samples: LoadSample[] = []
  const agents = options.cookies.map(() =>
    options.keepAlive ? new http.Agent({ keepAlive: true, maxSockets: options.concurrency }) : false,
  )
  let running = true
  let next = 0
  const client = async () => {
    while (running) {
      const session = next++ % options.cookies.length
      const sample: LoadSample = { session, at: Date.now() }
      try {
        const response = await request(options.port, options.path ?? '/', {
          agent: agents[session]!,
          headers: { cookie: options.cookies[session]! },
          timeout: options.timeout ?? 5_000,
        })
        sample.status = response.status
        sample.body = response.body
      } catch (error) {
        sample.error = (error as Error).message
      }
      samples.push(sample)
    }
  }
  const clients = Array.from({ length: options.concurrency }, () => client())
  return {
    samples,
    async stop() {
      running = false
      await Promise.all(clients)
      for (const agent of agents) if (agent !== false) agent.destroy()
      return samples
    },
  }
}

/** Waits until `condition()` is true, polling every `interval` ms, for at most `timeout` ms. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeout = 10_000,
  interval = 50,
): Promise<void> {
  const deadline = Date.now() + timeout
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeout} ms`)
    await new Promise((resolve) => setTimeout(resolve, interval))
  }
}
