// How the primary reads request heads, as a suite that runs against more than one cluster: the
// default reader (bare TCP handles) and the net.Socket fallback (TETHER_PRIMARY_READER=socket).
import { createHash, randomBytes } from 'node:crypto'
import net from 'node:net'
import { expect } from 'chai'
import type { ClusterFixture } from '../support/cluster-fixture.js'
import { rawExchange, request } from '../support/http-client.js'
import type { ClusterSession } from '../support/sessions.js'

/** The worker route in a raw HTTP response's JSON body. */
export function routeIn(response: string): string | undefined {
  return /"route":"([^"]+)"/.exec(response)?.[1]
}

/**
 * The head tests, for a cluster of 3 workers (w0..w2) started with maxHeaderSize 4096 and
 * headersTimeout 600, and a session on every worker.
 */
export function describeHeadHandling(
  context: () => { cluster: ClusterFixture; sessions: Map<string, ClusterSession> },
): void {
  describe('request heads over the wire', () => {
    const head = (session: ClusterSession) =>
      Buffer.from(
        `GET /?split HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: theme=dark; ${session.cookie}\r\nConnection: close\r\n\r\n`,
      )

    it('routes correctly whatever byte offset the head is split at', async () => {
      const session = context().sessions.get('w2')!
      const bytes = head(session)
      const offsets = Array.from({ length: bytes.length - 1 }, (_, i) => i + 1)
      // In batches, so the machine is not flooded.
      for (let start = 0; start < offsets.length; start += 25) {
        const batch = offsets.slice(start, start + 25)
        const results = await Promise.all(
          batch.map((offset) =>
            rawExchange(context().cluster.port, [bytes.subarray(0, offset), bytes.subarray(offset)], {
              gap: 5,
            }),
          ),
        )
        results.forEach((r, i) => {
          expect(r.response, `split at ${batch[i]}`).to.match(/^HTTP\/1\.1 200/)
          expect(routeIn(r.response), `split at ${batch[i]}`).to.equal('w2')
        })
      }
    })

    it('routes correctly when the head arrives one byte at a time', async () => {
      const bytes = head(context().sessions.get('w0')!)
      const chunks = Array.from(bytes, (b) => Buffer.from([b]))
      const { response } = await rawExchange(context().cluster.port, chunks, { gap: 1 })
      expect(routeIn(response)).to.equal('w0')
    })

    it('delivers a 1 MiB binary body intact (checksum)', async () => {
      const body = randomBytes(1024 * 1024)
      const session = context().sessions.get('w1')!
      const response = await request(context().cluster.port, '/echo', {
        method: 'POST',
        body,
        headers: { cookie: session.cookie, 'content-type': 'application/octet-stream' },
      })
      expect(response.body).to.deep.equal({
        route: 'w1',
        bytes: body.length,
        sha256: createHash('sha256').update(body).digest('hex'),
      })
    })
  })

  describe('bad request heads', () => {
    it('answers an oversized head with 431 and closes', async () => {
      const huge = `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(5000)}\r\n\r\n`
      const { response, closed } = await rawExchange(context().cluster.port, [huge])
      expect(response).to.match(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/)
      expect(response).to.include('Connection: close')
      expect(closed).to.equal(true)
    })

    it('answers a head that never completes (slowloris) with 408 and closes', async () => {
      const started = Date.now()
      const { response, closed } = await rawExchange(
        context().cluster.port,
        ['GET / HTTP/1.1\r\n', 'Host: x\r\n', 'X-A: 1\r\n'],
        {
          gap: 200,
        },
      )
      expect(response).to.match(/^HTTP\/1\.1 408 Request Timeout\r\n/)
      expect(closed).to.equal(true)
      expect(Date.now() - started).to.be.below(5_000)
    })

    it('answers garbage with 400 and closes', async () => {
      for (const garbage of ['\x16\x03\x01\x02\x00', 'hello\r\n', 'GET /\r\n\r\n']) {
        const { response, closed } = await rawExchange(context().cluster.port, [garbage])
        expect(response, JSON.stringify(garbage)).to.match(/^HTTP\/1\.1 400 Bad Request\r\n/)
        expect(closed).to.equal(true)
      }
    })

    it('counts clients that leave before their head is complete as aborted', async () => {
      const before = (await context().cluster.metrics()).aborted
      for (const leave of ['end', 'reset'] as const) {
        const socket = net.connect({ port: context().cluster.port, host: '127.0.0.1' })
        await new Promise((resolve) => socket.once('connect', resolve))
        socket.write('GET / HTTP/1.1\r\nHost: x\r\n')
        await new Promise((resolve) => setTimeout(resolve, 50))
        if (leave === 'end') socket.end()
        else socket.resetAndDestroy()
        await new Promise((resolve) => socket.once('close', resolve))
      }
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect((await context().cluster.metrics()).aborted - before).to.equal(2)
    })

    it('counts every rejection by reason', async () => {
      const metrics = await context().cluster.metrics()
      expect(metrics.rejected.tooLarge).to.be.at.least(1)
      expect(metrics.rejected.timeout).to.be.at.least(1)
      expect(metrics.rejected.badRequest).to.be.at.least(3)
    })
  })
}
