import { expect } from 'chai'
import { type RunningExample, startExample } from '../support/example-process.js'
import { cookieOf, request } from '../support/http-client.js'

describe('examples/cluster-demo', function () {
  this.timeout(30_000)
  let demo: RunningExample
  let port: number
  before(async () => {
    demo = await startExample('cluster-demo', { WORKERS: '2' })
    port = Number(new URL(demo.url).port)
  })
  after(async () => demo?.stop())

  it('keeps a visitor on one worker, counting visits, and survives a crash of that worker', async () => {
    const first = await request(port, '/').catch((error: Error) => {
      throw new Error(`${error.message}\n${demo.output()}`)
    })
    const cookie = cookieOf(first)
    const worker = first.body.worker
    expect(worker).to.be.oneOf(['w0', 'w1'])
    for (let visits = 2; visits <= 4; visits++) {
      const again = await request(port, '/', { headers: { cookie } })
      expect(again.body).to.include({ worker, visits })
    }
    const crash = await request(port, '/crash', { method: 'POST', headers: { cookie } })
    expect(crash.body.crashing).to.equal(worker)
    // Answered by the backup (or by the restarted worker), never an error.
    const during = await request(port, '/', { headers: { cookie } })
    expect(during.status).to.equal(200)
    const deadline = Date.now() + 10_000
    let back: Record<string, unknown> = {}
    while (Date.now() < deadline) {
      back = (await request(port, '/', { headers: { cookie } })).body
      if (back.worker === worker && back.pid !== first.body.pid) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(back.worker).to.equal(worker)
    expect(back.pid).to.not.equal(first.body.pid)
  })
})
