import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import { type AddressInfo, connect, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'

/*
 * Node's own HTTP parser (llhttp, through http.createServer) as the other side of a differential
 * check: what Node made of some bytes, over a real loopback socket that is kept alive across
 * cases, so that a million cases do not take a million connections.
 *
 * Whether Node accepts a head is decided within the bytes sent, without the FIN that ends a
 * connection: a head is over at its blank line, so bytes with a blank line get an answer as they
 * are (200, or 400 when llhttp refuses them), and bytes without one are sent with a NUL after
 * them, which no head can end with and which makes llhttp refuse any head still open. A 200 before
 * that NUL is read is thus an answer to the bytes alone. After a 200 a probe request checks that
 * nothing of the case is left in Node's parser before the connection takes the next case. Only a
 * case Node did not answer in time (none is expected) falls back to a connection of its own,
 * ended with a FIN.
 */

/** What Node's parser saw of a request. */
export interface NodeView {
  method: string
  url: string
  cookie: string | null
  forwardedFor: string | null
}

/** How the connections were used, for the long run's report. */
export interface PeerCounts {
  cases: number
  connections: number
  /** Cases answered on a connection that had served an earlier case. */
  reused: number
  /** Cases Node had not answered within ANSWER_MS, done again on a connection ended with a FIN. */
  fallbacks: number
}

/** Generous: an answer takes well under a millisecond, and the long run shares busy cores. */
const ANSWER_MS = 2000
const PROBE = Buffer.from('GET /__probe HTTP/1.1\r\nHost: probe\r\n\r\n', 'latin1')
const NUL = Buffer.from([0])

interface ResponseHead {
  status: number
  headers: Map<string, string>
}

/** The response heads coming back on one client connection; every response here has no body. */
class Wire {
  readonly socket: Socket
  served = 0
  #buffer: Buffer = Buffer.alloc(0)
  #closed = false
  #wake: (() => void) | undefined

  constructor(socket: Socket) {
    this.socket = socket
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk])
      this.#wake?.()
    })
    socket.on('close', () => {
      this.#closed = true
      this.#wake?.()
    })
    socket.on('error', () => {}) // a reset after a 400 is an answer too
  }

  get open(): boolean {
    return !this.#closed && !this.socket.destroyed
  }

  /** The next final response head (1xx skipped), 'closed' when none came, 'timeout' past ANSWER_MS. */
  async response(): Promise<ResponseHead | 'closed' | 'timeout'> {
    const deadline = performance.now() + ANSWER_MS
    for (;;) {
      const end = this.#buffer.indexOf('\r\n\r\n')
      if (end >= 0) {
        const lines = this.#buffer.toString('latin1', 0, end).split('\r\n')
        this.#buffer = this.#buffer.subarray(end + 4)
        const status = Number(/^HTTP\/1\.[01] (\d{3}) /.exec(lines[0]!)?.[1] ?? 0)
        if (status >= 100 && status < 200) continue
        const headers = new Map<string, string>()
        for (const line of lines.slice(1)) {
          const colon = line.indexOf(':')
          headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim())
        }
        return { status, headers }
      }
      if (this.#closed) return 'closed'
      const left = deadline - performance.now()
      if (left <= 0) return 'timeout'
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.#wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.#wake = undefined
    }
  }
}

function viewOf(head: ResponseHead): NodeView | undefined {
  if (head.status !== 200) return undefined
  const view = head.headers.get('x-view')
  if (view === undefined) throw new Error(`a 200 without x-view: ${JSON.stringify([...head.headers])}`)
  return JSON.parse(Buffer.from(view, 'base64').toString('utf8')) as NodeView
}

/** Whether a blank line ends a head in `bytes` (empty lines before the request line skipped). */
function hasBlankLine(bytes: Buffer): boolean {
  let start = 0
  while (start < bytes.length && (bytes[start] === 0x0d || bytes[start] === 0x0a)) start++
  return bytes.indexOf('\n\n', start, 'latin1') >= 0 || bytes.indexOf('\n\r\n', start, 'latin1') >= 0
}

/** An HTTP server on a loopback port that answers each request with what its parser saw. */
export class LlhttpPeer {
  readonly counts: PeerCounts = { cases: 0, connections: 0, reused: 0, fallbacks: 0 }
  #server: Server | undefined
  #port = 0
  #wire: Wire | undefined

  async start(): Promise<void> {
    this.#server = createServer((req, res) => {
      const view: NodeView = {
        method: req.method!,
        url: req.url!,
        cookie: req.headers.cookie ?? null,
        forwardedFor: (req.headers['x-forwarded-for'] as string | undefined) ?? null,
      }
      // A body would follow the head: the connection's next bytes are not a request.
      const body =
        req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined
      // In a header, not the body: a HEAD request gets no body.
      res.writeHead(200, {
        'x-view': Buffer.from(JSON.stringify(view)).toString('base64'),
        'x-header-count': String(req.rawHeaders.length / 2),
        'content-length': '0',
        ...(body ? { connection: 'close' } : {}),
      })
      res.end()
    })
    this.#server.listen(0, '127.0.0.1')
    await once(this.#server, 'listening')
    this.#port = (this.#server.address() as AddressInfo).port
  }

  async stop(): Promise<void> {
    this.#wire?.socket.destroy()
    this.#server?.closeAllConnections()
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()))
  }

  /** What Node's parser made of `bytes`: the request it saw, or undefined when it refused them. */
  async view(bytes: Buffer): Promise<NodeView | undefined> {
    this.counts.cases++
    let wire = await this.#connection()
    let answer = await this.#send(wire, bytes)
    if (answer === 'closed' && wire.served > 1) {
      // Closed without a word on a connection that had served before: perhaps as idle, just as
      // the case went out. A fresh connection tells.
      this.#drop(wire)
      wire = await this.#connection()
      answer = await this.#send(wire, bytes)
    }
    if (answer === 'timeout') {
      this.#drop(wire)
      this.counts.fallbacks++
      return this.#viewWithFin(bytes)
    }
    if (answer === 'closed') return this.#drop(wire)
    const view = viewOf(answer)
    if (view === undefined || answer.headers.get('connection') === 'close') this.#drop(wire)
    else await this.#probe(wire)
    return view
  }

  #send(wire: Wire, bytes: Buffer): Promise<ResponseHead | 'closed' | 'timeout'> {
    if (wire.served > 0) this.counts.reused++
    wire.served++
    wire.socket.write(hasBlankLine(bytes) ? bytes : Buffer.concat([bytes, NUL]))
    return wire.response()
  }

  /** Keeps the connection only if Node answers a plain request on it as exactly that request. */
  async #probe(wire: Wire): Promise<void> {
    wire.socket.write(PROBE)
    const answer = await wire.response()
    const view = typeof answer === 'object' ? viewOf(answer) : undefined
    const clean =
      view?.method === 'GET' &&
      view.url === '/__probe' &&
      view.cookie === null &&
      view.forwardedFor === null &&
      typeof answer === 'object' &&
      answer.headers.get('x-header-count') === '1' &&
      answer.headers.get('connection') !== 'close'
    if (!clean) this.#drop(wire)
  }

  async #connection(): Promise<Wire> {
    if (this.#wire?.open) return this.#wire
    this.counts.connections++
    const socket = connect(this.#port, '127.0.0.1')
    socket.setNoDelay(true)
    this.#wire = new Wire(socket)
    await once(socket, 'connect')
    return this.#wire
  }

  #drop(wire: Wire): undefined {
    wire.socket.destroy()
    if (this.#wire === wire) this.#wire = undefined
    return undefined
  }

  /** The slow, exact way: a connection of its own, ended with a FIN so that Node must decide. */
  async #viewWithFin(bytes: Buffer): Promise<NodeView | undefined> {
    this.counts.connections++
    const wire = new Wire(connect(this.#port, '127.0.0.1'))
    wire.socket.end(bytes)
    const answer = await wire.response()
    wire.socket.destroy()
    return typeof answer === 'object' ? viewOf(answer) : undefined
  }
}
