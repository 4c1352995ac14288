// drainSignal(): a worker's long responses end when it drains, so reload() need not wait for them.
import http from 'node:http'
import { expect } from 'chai'
import { type ClusterFixture, startClusterFixture } from '../support/cluster-fixture.js'
import { FIXTURE_SECRET } from './fixtures/session-cluster.js'

describe('drainSignal() in a worker', function () {
  this.timeout(30_000)
  let cluster: ClusterFixture
  before(async () => {
    // Far longer than this suite may take: only the app ending its stream lets reload() finish.
    cluster = await startClusterFixture({
      workers: 2,
      host: '127.0.0.1',
      secret: FIXTURE_SECRET,
      drainTimeout: 120_000,
    })
  })
  after(() => cluster?.close())

  it('aborts when the worker drains, so that a stream ends and reload() does not wait for drainTimeout', async () => {
    const stream = await new Promise<{ first: string; ended: Promise<string> }>((resolve, reject) => {
      const req = http.get(
        { host: '127.0.0.1', port: cluster.port, path: '/stream', agent: false },
        (res) => {
          let text = ''
          let resolved = false
          const ended = new Promise<string>((done) => res.on('end', () => done(text)))
          res.on('data', (chunk: Buffer) => {
            text += chunk.toString()
            if (!resolved && text.includes('\n\n')) {
              resolved = true
              resolve({ first: text, ended })
            }
          })
        },
      )
      req.on('error', reject)
    })
    const [, route, pid] = /^data: (w\d) (\d+)/.exec(stream.first)!
    await cluster.reload()
    expect(await stream.ended).to.match(/event: bye\ndata: draining\n\n$/)
    const now = (await cluster.workers()).find((w) => w.route === route)!
    expect(now.pid).to.not.equal(Number(pid))
  })
})
