// The chat inside each worker: a page, and socket.io whose engine.io ids name this worker, so the
// cluster's primary sends every request of a socket.io connection here, with or without cookies.
import http from 'node:http'
import { createAdapter } from '@socket.io/cluster-adapter'
import { socketIoId } from '@tether/cluster'
import { Server } from 'socket.io'
import { CHAT_PAGE } from './page.js'

const worker = process.env.TETHER_ROUTE ?? 'solo'

/** One chat message as the clients receive it. */
export interface ChatMessage {
  name: string
  text: string
  /** The worker of the sender's connection. */
  worker: string
}

const clean = (value: unknown, max: number, fallback: string) =>
  typeof value === 'string' && value.trim() !== '' ? value.trim().slice(0, max) : fallback

export function createChat(): http.Server {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method === 'GET' && path === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
      res.end(CHAT_PAGE)
      return
    }
    res.writeHead(404, { 'content-type': 'text/plain' })
    res.end('not found\n')
  })
  // The cluster adapter carries broadcasts between the workers (through the primary), so everyone
  // sees every message whichever worker holds their connection.
  const io = new Server(server, process.env.TETHER_ROUTE === undefined ? {} : { adapter: createAdapter() })
  io.engine.generateId = socketIoId
  io.on('connection', (socket) => {
    socket.emit('welcome', { worker, pid: process.pid })
    socket.on('say', (message: { name?: unknown; text?: unknown }, ack?: (reply: object) => void) => {
      const text = clean(message?.text, 500, '')
      if (text === '') return ack?.({ error: 'empty message' })
      const said: ChatMessage = { name: clean(message?.name, 40, 'anonymous'), text, worker }
      io.emit('said', said)
      ack?.({ worker })
    })
  })
  return server
}
