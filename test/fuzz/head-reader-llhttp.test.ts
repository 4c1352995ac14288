import { METHODS } from 'node:http'
import { expect } from 'chai'
import fc from 'fast-check'
import { IncomingHead } from '../../packages/cluster/src/head/incoming-head.js'
import { fuzzAsyncProperty, REPORT } from './budget.js'
import { generatedHead, headBytes, mutationsOf } from './http-heads.js'
import { LlhttpPeer, type NodeView } from './llhttp-peer.js'

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

/**
 * Heads Node is likely to accept, since only those are compared: a Host header (Node answers 400
 * to HTTP/1.1 without one), mostly a method llhttp knows (it refuses all others) and mostly
 * HTTP/1.1 (after an HTTP/1.0 answer Node closes the connection).
 */
const nodeHead = fc
  .tuple(
    generatedHead,
    fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...METHODS) }, fc.constant(undefined)),
    fc.constantFrom('HTTP/1.1', 'HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0'),
  )
  .map(([head, method, version]) => ({
    ...head,
    method: method ?? head.method,
    version,
    headers: [{ name: 'Host', value: 'shop.example' }, ...head.headers],
  }))

describe('fuzz: head reader against llhttp', () => {
  const node = new LlhttpPeer()
  let accepted = 0 // and compared: a request line the primary may read
  before(() => node.start())
  after(async () => {
    await node.stop()
    if (!REPORT) return
    const c = node.counts
    console.log(
      `llhttp peer: ${c.cases} cases (${accepted} accepted by Node and compared), ${c.connections} connections, ` +
        `${c.reused} cases on a reused connection, ${c.fallbacks} fallbacks to a FIN`,
    )
  })

  it('accepts whatever Node accepts, and sees the same method, target and routing headers', () =>
    fuzzAsyncProperty(
      TARGET,
      1,
      fc.oneof(nodeHead.map(headBytes), mutationsOf(nodeHead.map(headBytes))),
      async (bytes: Buffer) => {
        const seen = await node.view(bytes)
        if (seen === undefined || !STRICT_LINE.test(bytes.toString('latin1'))) return
        accepted++
        expect(primaryView(bytes), bytes.toString('latin1')).to.deep.equal(seen)
      },
    ))
})
