// Drives examples/multi-node as a user runs it: its node.ts as real processes (one per node name)
// and HAProxy with its own haproxy.cfg, addresses given through the environment the cfg reads.
import http from 'node:http'
import { fileURLToPath } from 'node:url'
import { type RunningExample, startExample } from './example-process.js'
import { type HaproxyHandle, startHaproxyWithFile } from './haproxy.js'
import { type JsonResponse, request } from './http-client.js'

const CONFIG = fileURLToPath(new URL('../../examples/multi-node/haproxy.cfg', import.meta.url))

/** Starts `node.ts` under `name` (the same secret for every node, as the README says). */
export function startExampleNode(name: string, env: Record<string, string>): Promise<RunningExample> {
  return startExample(
    'multi-node',
    {
      ...env,
      NODE_NAME: name,
      SESSION_SECRET: 'multi-node-example-secret-of-at-least-32-chars',
      WORKERS: '2',
      // The nodes and their workers write no V8 coverage, even when the run is under c8.
      NODE_V8_COVERAGE: '',
    },
    'node.ts',
  )
}

/** HAProxy with the example's haproxy.cfg on a free port, in front of nodes a and b. */
export function startExampleHaproxy(a: RunningExample, b: RunningExample): Promise<HaproxyHandle> {
  return startHaproxyWithFile(CONFIG, (port) => ({
    LISTEN_ADDR: `127.0.0.1:${port}`,
    NODE_A_ADDR: new URL(a.url).host,
    NODE_B_ADDR: new URL(b.url).host,
  }))
}

/** What POST /cart answered. */
export interface CartReply {
  status: number
  cart: unknown
  servedBy: unknown
}

/**
 * A browser-like shopper: its own keep-alive connection and cookie jar, and the items it has put
 * in its cart so far (named after the shopper, so a cart showing another's items stands out).
 */
export class Shopper {
  readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  readonly items: string[] = []
  cookie: string | undefined

  constructor(
    readonly port: number,
    readonly name: string,
  ) {}

  /** The route in the session cookie (`a-w1`): the node and worker that own the session. */
  get route(): string | undefined {
    return /^tether\.sid=[A-Za-z0-9_-]{43}\.([A-Za-z0-9_-]+)\./.exec(this.cookie ?? '')?.[1]
  }

  /** Puts the next item in the cart; remembers it once the server answered 201. */
  async addsAnItem(): Promise<CartReply> {
    const item = `${this.name}-item-${this.items.length + 1}`
    const reply: JsonResponse = await request(this.port, '/cart', {
      method: 'POST',
      agent: this.agent,
      headers: { 'content-type': 'application/json', ...(this.cookie && { cookie: this.cookie }) },
      body: Buffer.from(JSON.stringify({ item })),
    })
    const setCookie = reply.headers['set-cookie']?.[0]
    if (setCookie !== undefined) this.cookie = setCookie.split(';')[0]
    if (reply.status === 201) this.items.push(item)
    return { status: reply.status, cart: reply.body.cart, servedBy: reply.body.servedBy }
  }

  close(): void {
    this.agent.destroy()
  }
}
