import { expect } from 'chai'
import { io, type Socket } from 'socket.io-client'
import { type RunningExample, startExample } from '../support/example-process.js'
import { request } from '../support/http-client.js'

interface Said {
  name: string
  text: string
  worker: string
}

/** A chat client without cookies: resolves once connected and welcomed by a worker. */
async function join(
  url: string,
  transports: string[],
): Promise<{ socket: Socket; worker: string; heard: Said[] }> {
  const socket = io(url, { transports, reconnection: false, forceNew: true })
  const heard: Said[] = []
  socket.on('said', (message: Said) => heard.push(message))
  const worker = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('not welcomed within 10 s')), 10_000)
    socket.once('welcome', (welcome: { worker: string }) => {
      clearTimeout(timer)
      resolve(welcome.worker)
    })
    socket.once('connect_error', reject)
  })
  return { socket, worker, heard }
}

describe('examples/socketio-chat', function () {
  this.timeout(60_000)
  let chat: RunningExample
  before(async () => {
    chat = await startExample('socketio-chat')
  })
  after(async () => chat?.stop())

  it('serves its page and the socket.io client bundle itself', async () => {
    expect(chat.output()).to.include('3-worker cluster')
    const page = await request(Number(new URL(chat.url).port), '/')
    expect(page.status).to.equal(200)
    expect(page.text).to.include('<script src="/socket.io/socket.io.js"></script>')
    const bundle = await request(Number(new URL(chat.url).port), '/socket.io/socket.io.js')
    expect(bundle.status).to.equal(200)
    expect(bundle.headers['content-type']).to.match(/javascript/)
    expect(bundle.text.length).to.be.above(10_000)
  })

  it('keeps cookieless clients on their worker and delivers every message to everyone', async () => {
    const clients = await Promise.all(
      Array.from({ length: 9 }, (_, i) =>
        join(chat.url, i % 3 === 0 ? ['polling'] : i % 3 === 1 ? ['websocket'] : ['polling', 'websocket']),
      ),
    )
    try {
      expect(new Set(clients.map((c) => c.worker))).to.deep.equal(new Set(['w0', 'w1', 'w2']))
      for (const [i, client] of clients.entries()) {
        const reply = (await client.socket
          .timeout(5_000)
          .emitWithAck('say', { name: `c${i}`, text: `hello ${i}` })) as {
          worker: string
        }
        expect(reply.worker, `client ${i} answered by its own worker`).to.equal(client.worker)
      }
      // Broadcasts cross workers through the cluster adapter: each client hears all nine messages,
      // each marked with the worker of its sender.
      const deadline = Date.now() + 10_000
      while (clients.some((c) => c.heard.length < 9) && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 50))
      for (const client of clients) {
        expect(client.heard.map((m) => m.text).sort()).to.deep.equal(
          clients.map((_, i) => `hello ${i}`).sort(),
        )
        for (const message of client.heard)
          expect(message.worker).to.equal(clients[Number(message.name.slice(1))]!.worker)
      }
    } finally {
      for (const client of clients) client.socket.disconnect()
    }
  })
})
