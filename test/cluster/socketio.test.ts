import { expect } from 'chai'
import { Fetch } from 'engine.io-client'
import { io, type Socket } from 'socket.io-client'
import { type ClusterFixture, startClusterFixture } from '../support/cluster-fixture.js'
import { cookieOf, request } from '../support/http-client.js'
import { waitFor } from '../support/load-loop.js'
import { FIXTURE_SECRET } from './fixtures/session-cluster-secret.js'

const ROUTES = ['w0', 'w1', 'w2']
/** How long each client stays connected, exchanging acknowledged messages. */
const CHAT_MS = 4_000

interface ChatResult {
  /** Workers that acknowledged this client's messages. */
  routes: Set<string>
  acks: number
  /** Errors and disconnections seen while the client should have stayed connected. */
  problems: string[]
  /** The transport in use at the end. */
  transport: string
}

/** One socket.io client: connects, sends acknowledged messages for CHAT_MS, disconnects. */
async function chat(port: number, options: Parameters<typeof io>[1] = {}): Promise<ChatResult> {
  const socket: Socket = io(`http://127.0.0.1:${port}`, { reconnection: false, forceNew: true, ...options })
  const problems: string[] = []
  socket.on('connect_error', (error) => problems.push(`connect_error: ${error.message}`))
  socket.on('disconnect', (reason) => problems.push(`disconnect: ${reason}`))
  const routes = new Set<string>()
  let acks = 0
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not connected within 10 s: ${problems}`)), 10_000)
      socket.once('connect', () => {
        clearTimeout(timer)
        resolve()
      })
    })
    const end = Date.now() + CHAT_MS
    for (let n = 0; Date.now() < end && problems.length === 0; n++) {
      const reply = (await socket.timeout(5_000).emitWithAck('echo', n)) as { route: string; n: number }
      expect(reply.n).to.equal(n)
      routes.add(reply.route)
      acks++
      await new Promise((resolve) => setTimeout(resolve, 40)) // a chat, not a flood
    }
    return { routes, acks, problems: [...problems], transport: socket.io.engine.transport.name }
  } finally {
    socket.disconnect()
  }
}

/** Runs `count` clients at once and checks that each stayed with one worker, and that all workers got some. */
async function chatMany(count: number, start: (i: number) => Promise<ChatResult>): Promise<ChatResult[]> {
  const results = await Promise.all(Array.from({ length: count }, (_, i) => start(i)))
  for (const [i, result] of results.entries()) {
    expect(result.problems, `client ${i}`).to.deep.equal([])
    expect(result.routes.size, `client ${i} talked to ${[...result.routes]}`).to.equal(1)
    expect(result.acks, `client ${i}`).to.be.at.least(10)
  }
  expect(new Set(results.flatMap((r) => [...r.routes]))).to.deep.equal(new Set(ROUTES))
  return results
}

/** The cluster's metrics once no hand-off is left to count (two reads 150 ms apart agree). */
async function settledMetrics(cluster: ClusterFixture) {
  let last = await cluster.metrics()
  for (let i = 0; i < 40; i++) {
    await new Promise((resolve) => setTimeout(resolve, 150))
    const next = await cluster.metrics()
    if (next.routed === last.routed) return next
    last = next
  }
  throw new Error('the cluster kept routing connections for 6 s')
}

describe('socket.io clients through the cluster', function () {
  this.timeout(120_000)
  let cluster: ClusterFixture

  before(async () => {
    cluster = await startClusterFixture(
      { workers: 3, host: '127.0.0.1', secret: FIXTURE_SECRET },
      {},
      'socketio-cluster',
    )
  })
  after(async () => cluster?.close())
  // First visits go to the workers with the fewest open connections: start each test once the
  // connections of the one before are closed, so that it sees the spreading of an idle cluster.
  beforeEach(async () => {
    for (let i = 0; i < 100; i++) {
      if ((await cluster.workers()).every((w) => w.connections === 0)) return
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    throw new Error('connections of the previous test still open after 5 s')
  })

  describe('without cookies', () => {
    it('keeps 30 long-polling clients on their worker', async () => {
      await chatMany(30, () => chat(cluster.port, { transports: ['polling'] }))
    })

    it('keeps 30 WebSocket clients on their worker', async () => {
      await chatMany(30, () => chat(cluster.port, { transports: ['websocket'] }))
    })

    it('keeps 30 clients that poll, then upgrade to WebSocket, on their worker', async () => {
      const results = await chatMany(30, () => chat(cluster.port))
      for (const result of results) expect(result.transport).to.equal('websocket')
    })

    it('keeps 30 polling clients on their worker when they share a keep-alive pool (fetch)', async () => {
      // Node's fetch pools connections per origin across all clients, so a polling request often
      // goes out on a connection another worker serves: that worker sends it round again (307).
      const before = (await cluster.metrics()).misroutes
      await chatMany(30, () => chat(cluster.port, { transports: [Fetch] }))
      // Workers report their counters every 100 ms at most.
      await waitFor(async () => (await cluster.metrics()).misroutes > before)
    })
  })

  describe('with a Tether session', () => {
    it('talks to the worker of the session cookie (a page visited first)', async () => {
      await chatMany(12, async () => {
        const page = await request(cluster.port, '/')
        const result = await chat(cluster.port, { extraHeaders: { cookie: cookieOf(page) } })
        expect([...result.routes]).to.deep.equal([page.body.route])
        return result
      })
    })

    it('talks to the worker of a session value in the query (?tether.sid=)', async () => {
      await chatMany(12, async () => {
        const page = await request(cluster.port, '/')
        const value = cookieOf(page).split('=')[1]!
        const result = await chat(cluster.port, { transports: ['polling'], query: { 'tether.sid': value } })
        expect([...result.routes]).to.deep.equal([page.body.route])
        return result
      })
    })
  })

  describe('when the worker holding a connection dies', () => {
    it('the client reconnects to a living worker and carries on', async () => {
      const socket = io(`http://127.0.0.1:${cluster.port}`, {
        transports: ['polling'],
        forceNew: true,
        reconnectionDelay: 100,
      })
      try {
        await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
        const first = (await socket.timeout(5_000).emitWithAck('echo', 1)) as { route: string }
        const pid = (await cluster.workers()).find((w) => w.route === first.route)!.pid!
        const reconnected = new Promise<void>((resolve) => socket.io.once('reconnect', () => resolve()))
        process.kill(pid, 'SIGKILL')
        await reconnected
        const after = (await socket.timeout(5_000).emitWithAck('echo', 2)) as { n: number; pid: number }
        expect(after.n).to.equal(2)
        expect(after.pid).to.not.equal(pid) // a living worker (or the dead one's replacement)
      } finally {
        socket.disconnect()
      }
      // The slot is refilled before the next test counts on three workers.
      for (let i = 0; i < 100; i++) {
        if ((await cluster.workers()).every((w) => w.state === 'ready')) break
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    })
  })

  describe('engine.io ids', () => {
    it('route a request by a signed id, and not by a forged one', async () => {
      const socket = io(`http://127.0.0.1:${cluster.port}`, { transports: ['websocket'], forceNew: true })
      const id = await new Promise<string>((resolve) =>
        socket.once('connect', () => resolve(socket.io.engine.id!)),
      )
      socket.disconnect()
      const [random, route] = id.split('.') as [string, string, string]
      const forged = `${random}.${route}.${'A'.repeat(22)}`
      const byUrl = async () => (await settledMetrics(cluster)).routedBy['url-param']
      const start = await byUrl()
      for (let i = 0; i < 6; i++) {
        const response = await request(cluster.port, `/socket.io/?EIO=4&transport=polling&sid=${forged}`)
        expect(response.status).to.equal(400) // engine.io: Session ID unknown
      }
      await request(cluster.port, `/socket.io/?EIO=4&transport=polling&sid=${id}`)
      expect(await byUrl()).to.equal(start + 1)
    })
  })
})
