import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import { type AddressInfo, connect } from 'node:net'
import { expect } from 'chai'
import fc from 'fast-check'
import { IncomingHead } from '../../packages/cluster/src/head/incoming-head.js'
import { cappedParams, fuzz, timed } from './budget.js'
import { generatedHead, headBytes, mutationsOf } from './http-heads.js'

/*
 * Differential check of the primary's head reader against Node's own parser (llhttp), which the
 * worker runs on the same bytes: whatever Node accepts, the primary must accept too, and route on
 * the same method, target, Cookie and X-Forwarded-For. The other way is allowed to differ: a head
 * the primary accepts and Node refuses is handed to a worker, whose llhttp answers the 400.
 */

const TARGET = 'head reader vs llhttp'
/**
 * A request line of method SP target SP version. Node also takes a line without a version (as
 * HTTP/0.9) and runs of spaces between the parts; the router answers 400 to both, the safe way.
 */
const STRICT_LINE = /^[\r\n]*[^ \t\r\n]+ [^ \t\r\n]+ HTTP\/\d\.\d\r?\n/

interface NodeView {
  method: string
  url: string
  cookie: string | null
  forwardedFor: string | null
}

let server: Server
let port: number

before(async () => {
  server = createServer((req, res) => {
    const view: NodeView = {
      method: req.method!,
      url: req.url!,
      cookie: req.headers.cookie ?? null,
      forwardedFor: (req.headers['x-forwarded-for'] as string | undefined) ?? null,
    }
    // In a header, not the body: a HEAD request gets no body.
    res.writeHead(200, {
      'x-view': Buffer.from(JSON.stringify(view)).toString('base64'),
      connection: 'close',
    })
    res.end()
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  port = (server.address() as AddressInfo).port
})

after(() => new Promise<void>((resolve) => server.close(() => resolve())))

/** What Node's parser made of `bytes`: the request it saw, or undefined when it refused them. */
async function nodeView(bytes: Buffer): Promise<NodeView | undefined> {
  const socket = connect(port, '127.0.0.1')
  const chunks: Buffer[] = []
  socket.on('data', (chunk: Buffer) => chunks.push(chunk))
  socket.on('error', () => {}) // a reset after a 400 is an answer too
  socket.end(bytes) // the FIN makes Node decide on a head it still thinks incomplete
  await once(socket, 'close')
  const response = Buffer.concat(chunks).toString('latin1')
  if (!response.startsWith('HTTP/1.1 200 ')) return undefined
  const view = /\r\nx-view: ([A-Za-z0-9+/=]+)\r\n/i.exec(response)?.[1]
  if (view === undefined) throw new Error(JSON.stringify(response))
  return JSON.parse(Buffer.from(view, 'base64').toString('utf8')) as NodeView
}

/** The primary's view of the same bytes, through the class the router uses. */
function primaryView(bytes: Buffer): NodeView | string {
  const result = new IncomingHead(16 * 1024, false).push(bytes)
  if (result === undefined) return 'incomplete'
  if (typeof result === 'string') return result
  return {
    method: result.method,
    url: result.target,
    cookie: result.headers.get('cookie') ?? null,
    forwardedFor: result.headers.get('x-forwarded-for') ?? null,
  }
}

/** Node answers 400 to an HTTP/1.1 request without Host: give every generated head one. */
const withHost = generatedHead.map((head) => ({
  ...head,
  headers: [{ name: 'Host', value: 'shop.example' }, ...head.headers],
}))

describe('fuzz: head reader against llhttp', () => {
  it('accepts whatever Node accepts, and sees the same method, target and routing headers', () =>
    fuzz(TARGET, () =>
      fc.assert(
        fc.asyncProperty(
          fc.oneof(withHost.map(headBytes), mutationsOf(withHost.map(headBytes))),
          timed(TARGET, async (bytes: Buffer) => {
            const node = await nodeView(bytes)
            if (node === undefined || !STRICT_LINE.test(bytes.toString('latin1'))) return
            expect(primaryView(bytes), bytes.toString('latin1')).to.deep.equal(node)
          }),
        ),
        cappedParams(1, 20_000),
      ),
    ))
})
