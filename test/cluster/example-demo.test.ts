import { expect } from 'chai'
import { type RunningExample, startExample } from '../support/example-process.js'
import { cookieOf, request } from '../support/http-client.js'
import { waitFor } from '../support/load-loop.js'

describe('examples/cluster-demo', function () {
  this.timeout(30_000)
  let demo: RunningExample
  let port: number
  before(async () => {
    demo = await startExample('cluster-demo', { WORKERS: '2' })
    port = Number(new URL(demo.url).port)
  })
  after(async () => demo?.stop())

  it('behaves as its README says: one worker per visitor, and a crash moves the visitor to the backup for good', async () => {
    // A cookie jar, as `curl -c jar -b jar` keeps it.
    let jar = ''
    const visit = async () => {
      const response = await request(port, '/', { headers: jar === '' ? {} : { cookie: jar } })
      if (response.headers['set-cookie'] !== undefined) jar = cookieOf(response)
      return response.body
    }
    const first = await visit().catch((error: Error) => {
      throw new Error(`${error.message}\n${demo.output()}`)
    })
    const worker = String(first.worker)
    expect(worker).to.be.oneOf(['w0', 'w1'])
    for (let visits = 2; visits <= 4; visits++) expect(await visit()).to.include({ worker, visits })

    const crash = await request(port, '/crash', { method: 'POST', headers: { cookie: jar } })
    expect(crash.body.crashing).to.equal(worker)
    const backup = worker === 'w0' ? 'w1' : 'w0'
    // The backup answers with a new session (the crashed worker's memory is gone), issued by itself.
    expect(await visit()).to.include({ worker: backup, visits: 1 })
    await waitFor(() => /worker w[01] exited \(code 1\); it is being replaced/.test(demo.output()))
    // Once the crashed worker is back, the visitor stays with the session where it lives now...
    await waitFor(async () => {
      const fresh = await request(port, '/')
      return fresh.body.worker === worker && fresh.body.pid !== first.pid
    })
    expect(await visit()).to.include({ worker: backup, visits: 2 })
  })

  it('says nothing about workers it stops on purpose (Ctrl-C, SIGTERM)', async () => {
    const before = demo
      .output()
      .split('\n')
      .filter((line) => line.includes('exited')).length
    await demo.stop()
    const after = demo
      .output()
      .split('\n')
      .filter((line) => line.includes('exited')).length
    expect(after).to.equal(before)
  })
})
