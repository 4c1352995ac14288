// Two Tether machines (each a primary with 2 workers, named a and b) behind a real HAProxy that
// routes on the node part of the cookie's route, sessions in one real Redis. This is the
// deployment the cluster's nodeName option is for.
import { type ChildProcess, fork } from 'node:child_process'
import http from 'node:http'
import { fileURLToPath } from 'node:url'
import { expect } from 'chai'
import { type HaproxyHandle, startHaproxy } from '../support/haproxy.js'
import { sharedRedisServer } from '../support/redis-server.js'
import { describeWith } from '../support/system-binaries.js'

const SECRET = 'haproxy-e2e-secret-of-at-least-32-chars'

interface Node {
  name: string
  port: number
  child: ChildProcess
}

async function startNode(name: string, redisPort: number): Promise<Node> {
  const child = fork(fileURLToPath(new URL('./fixtures/redis-node.ts', import.meta.url)), [], {
    // No coverage from these children: c8 would try to merge their reports into the core run.
    env: {
      ...process.env,
      NODE_V8_COVERAGE: '',
      TETHER_E2E: JSON.stringify({ node: name, redisPort, secret: SECRET }),
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node ${name} did not start in 30 s`)), 30_000)
    child.on('message', (m: { type?: string; port?: number }) => {
      if (m.type === 'ready') {
        clearTimeout(timer)
        resolve(m.port!)
      }
    })
    child.once('exit', (code) => reject(new Error(`node ${name} exited with ${code}`)))
  })
  return { name, port, child }
}

async function stopNode(node: Node): Promise<void> {
  if (node.child.exitCode !== null || node.child.signalCode !== null) return
  const exited = new Promise((resolve) => node.child.once('exit', resolve))
  node.child.send({ type: 'close' })
  const timer = setTimeout(() => node.child.kill('SIGKILL'), 8_000)
  await exited
  clearTimeout(timer)
}

/** A browser-like client: its own keep-alive connection and cookie jar. */
class Client {
  readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  cookie: string | undefined
  /** The last count the server answered. */
  count = 0

  constructor(readonly port: number) {}

  get(path: string): Promise<{ status: number; body: { n?: number; route?: string } }> {
    return new Promise((resolve, reject) => {
      const req = http.get(
        {
          host: '127.0.0.1',
          port: this.port,
          path,
          agent: this.agent,
          headers: this.cookie ? { cookie: this.cookie } : {},
        },
        (res) => {
          const setCookie = res.headers['set-cookie']?.[0]
          if (setCookie !== undefined) this.cookie = setCookie.split(';')[0]
          let text = ''
          res.on('data', (chunk: Buffer) => {
            text += chunk.toString()
          })
          res.on('end', () => {
            const body = text.startsWith('{') ? JSON.parse(text) : {}
            if (typeof body.n === 'number') this.count = body.n
            resolve({ status: res.statusCode ?? 0, body })
          })
        },
      )
      req.setTimeout(10_000, () => req.destroy(new Error('request timed out')))
      req.on('error', reject)
    })
  }

  /** The node named in the cookie's route (`a` or `b`). */
  get node(): string | undefined {
    return /\.([ab])-w\d+\./.exec(this.cookie ?? '')?.[1]
  }

  close(): void {
    this.agent.destroy()
  }
}

describeWith(['haproxy', 'redis-server'], 'two Tether nodes behind HAProxy, sessions in Redis', function () {
  this.timeout(90_000)
  let nodes: Node[] = []
  let haproxy: HaproxyHandle
  const clients: Client[] = []

  before(async () => {
    const redis = await sharedRedisServer()
    nodes = await Promise.all([startNode('a', redis.port), startNode('b', redis.port)])
    const [a, b] = nodes as [Node, Node]
    haproxy = await startHaproxy(
      (port) => `
global
  maxconn 2000
defaults
  mode http
  timeout connect 2s
  timeout client 20s
  timeout server 20s
  # Keep each client's server-side connection to itself: Tether routes per connection.
  http-reuse never
frontend web
  bind 127.0.0.1:${port}
  default_backend tether
backend tether
  balance roundrobin
  option httpchk GET /health
  # The cookie names its owner as <token>.<node>-w<slot>.<mac>: send it to that node while it is up.
  acl owner_a req.cook(tether.sid) -m reg ^[A-Za-z0-9_-]{43}\\.a-w[0-9]+\\.
  acl owner_b req.cook(tether.sid) -m reg ^[A-Za-z0-9_-]{43}\\.b-w[0-9]+\\.
  use-server a if owner_a
  use-server b if owner_b
  server a 127.0.0.1:${a.port} check inter 200 fall 1 rise 1
  server b 127.0.0.1:${b.port} check inter 200 fall 1 rise 1
`,
    )
  })

  after(async () => {
    for (const client of clients) client.close()
    await Promise.all(nodes.map(stopNode))
    await haproxy?.stop()
  })

  it('spreads new sessions over both nodes and keeps every session on its node and worker', async () => {
    for (let i = 0; i < 12; i++) clients.push(new Client(haproxy.port))
    for (const client of clients) {
      const routes = new Set<string>()
      for (let n = 1; n <= 5; n++) {
        const { status, body } = await client.get('/count')
        expect(status).to.equal(200)
        expect(body.n).to.equal(n)
        routes.add(body.route!)
      }
      // One worker answered all five, and it is the one the cookie names.
      expect([...routes]).to.have.length(1)
      expect(client.cookie).to.contain(`.${[...routes][0]}.`)
    }
    const perNode = { a: 0, b: 0 }
    for (const client of clients) perNode[client.node as 'a' | 'b']++
    expect(perNode.a).to.be.greaterThan(0)
    expect(perNode.b).to.be.greaterThan(0)
  })

  it('a forged cookie through HAProxy gets a fresh session, not an error', async () => {
    const client = new Client(haproxy.port)
    clients.push(client)
    client.cookie = `tether.sid=${'A'.repeat(43)}.a-w0.${'B'.repeat(22)}`
    const { status, body } = await client.get('/count')
    expect(status).to.equal(200)
    expect(body.n).to.equal(1)
  })

  it('when node a goes away its sessions continue on node b with nothing lost', async () => {
    const onA = clients.filter((c) => c.node === 'a')
    expect(onA.length).to.be.greaterThan(0)
    await stopNode(nodes[0]!)
    // HAProxy's health check marks a down within a few hundred ms; retry until it has.
    for (const client of onA) {
      client.agent.destroy()
      const before = client.count
      let answered: { status: number; body: { n?: number; route?: string } } | undefined
      for (let attempt = 0; attempt < 50 && answered?.status !== 200; attempt++) {
        answered = await client.get('/count').catch(() => undefined)
        if (answered?.status !== 200) await new Promise((resolve) => setTimeout(resolve, 100))
      }
      expect(answered?.status).to.equal(200)
      expect(answered?.body.route).to.match(/^b-w\d+$/)
      // The count went on from where node a left it (failed attempts never reached a worker).
      expect(answered?.body.n).to.equal(before + 1)
    }
  })
})
