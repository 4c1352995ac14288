import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { requireSession, stickySession } from '@tether/express'
import { expect } from 'chai'
import express from 'express'
import supertest from 'supertest'
import { TEST_SECRET } from '../support/adapter-drivers.js'
import { cookieFrom, setCookiesOf } from '../support/session-cookie.js'
import { SwitchableStore } from '../support/switchable-store.js'

describe('express: holding the response until the session is committed', () => {
  const store = new SwitchableStore()
  const sessions = stickySession({ secret: TEST_SECRET, store })
  let url: string
  let server: import('node:http').Server
  const lateErrors: unknown[] = []

  before(async () => {
    const app = express()
    app.use(sessions)
    app.get('/own-cookie', (req, res) => {
      req.session.set('a', 1)
      res.cookie('theme', 'dark')
      res.json({ ok: true })
    })
    app.get('/write-head-cookie', (req, res) => {
      req.session.set('a', 1)
      res.writeHead(200, { 'Set-Cookie': 'theme=dark', 'Content-Type': 'text/plain' })
      res.end('ok')
    })
    app.get('/write-head-array-cookie', (req, res) => {
      req.session.set('a', 1)
      res.writeHead(200, ['Set-Cookie', ['a=1', 'b=2'], 'Content-Type', 'text/plain'])
      res.end('ok')
    })
    app.get('/write-head-two-cookie-keys', (req, res) => {
      req.session.set('a', 1)
      // Node sets each key in turn: the last Set-Cookie wins, and ours must be in it.
      res.writeHead(200, { 'set-cookie': 'a=1', 'Set-Cookie': 'b=2' })
      res.end('ok')
    })
    app.get('/null-cookie', (req, res) => {
      req.session.set('a', 1)
      res.setHeader('Set-Cookie', null as never) // Node sends "null"
      res.end('ok')
    })
    app.get('/bad-header-value', (req, res) => {
      req.session.set('a', 1)
      res.writeHead(200, { 'X-Bad': 'a\nb' })
      res.end('ok')
    })
    app.get('/big-stream', (req, res) => {
      req.session.set('a', 1)
      res.type('text')
      // 4 MiB in 64 KiB chunks: enough to hit backpressure while the commit is held.
      const chunk = 'x'.repeat(65_536)
      Readable.from(
        (function* () {
          for (let i = 0; i < 64; i++) yield chunk
        })(),
      ).pipe(res)
    })
    app.get('/late-writes', (req, res) => {
      req.session.set('a', 1)
      res.write('partial ')
      // The app keeps writing after the commit failed and the 503 went out: nothing may crash.
      setTimeout(() => {
        try {
          res.write('more')
          res.end('done')
        } catch (error) {
          lateErrors.push(error)
        }
      }, 30)
    })
    app.get('/file', (req, res, next) => {
      req.session.set('a', 1)
      res.sendFile(fileURLToPath(import.meta.url), (error) => error && next(error))
    })
    app.get('/unguarded', requireSession(), (_req, res) => res.end())
    server = app.listen(0, '127.0.0.1')
    await new Promise<void>((resolve) => server.once('listening', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterEach(() => {
    store.failWrites = false
    store.writeDelay = 0
  })
  after(async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
    await store.close()
  })

  it("keeps the app's own cookies set with res.cookie()", async () => {
    const res = await supertest(url).get('/own-cookie').expect(200)
    const names = setCookiesOf(res).map((line) => line.split('=')[0])
    expect(names).to.have.members(['theme', 'tether.sid'])
  })

  it('merges its cookie into a Set-Cookie given to res.writeHead()', async () => {
    const res = await supertest(url).get('/write-head-cookie').expect(200)
    const names = setCookiesOf(res).map((line) => line.split('=')[0])
    expect(names).to.have.members(['theme', 'tether.sid'])
  })

  describe('Set-Cookie lines of the app given to res.writeHead(), kept in order, ours last', () => {
    for (const writeDelay of [0, 20]) {
      const how = writeDelay === 0 ? 'committed at once' : 'committed after a wait'
      it(`as a flat array (${how})`, async () => {
        store.writeDelay = writeDelay
        const res = await supertest(url).get('/write-head-array-cookie').expect(200)
        const lines = setCookiesOf(res)
        expect(lines.slice(0, 2)).to.deep.equal(['a=1', 'b=2'])
        expect(lines[2]).to.match(/^tether\.sid=/)
      })

      it(`as an object with two Set-Cookie keys (${how})`, async () => {
        store.writeDelay = writeDelay
        const res = await supertest(url).get('/write-head-two-cookie-keys').expect(200)
        const lines = setCookiesOf(res)
        expect(lines[0]).to.equal('b=2')
        expect(lines[1]).to.match(/^tether\.sid=/)
      })
    }

    it('with a value Node takes as it is (null)', async () => {
      const res = await supertest(url).get('/null-cookie').expect(200)
      expect(setCookiesOf(res)[0]).to.equal('null')
    })
  })

  it('answers 500, as Express would, when a held writeHead() throws on replay', async () => {
    store.writeDelay = 20
    const unhandled: unknown[] = []
    const record = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', record)
    try {
      await supertest(url).get('/bad-header-value').expect(500)
      await supertest(url).get('/bad-header-value').expect(500) // the same connection is fine
    } finally {
      process.off('unhandledRejection', record)
    }
    expect(unhandled).to.deep.equal([])
  })

  it('streams a large body intact through the hold (backpressure resumes)', async () => {
    store.writeDelay = 20
    const res = await supertest(url).get('/big-stream').expect(200)
    expect(res.text.length).to.equal(64 * 65_536)
    cookieFrom(res)
  })

  it('commits before res.sendFile() streams a file, and before the head of a HEAD request', async () => {
    store.writeDelay = 20
    const res = await supertest(url)
      .get('/file')
      .buffer(true)
      .parse((r, done) => {
        let body = ''
        r.on('data', (chunk: Buffer) => {
          body += chunk.toString()
        })
        r.on('end', () => done(null, body))
      })
    expect(res.status).to.equal(200)
    expect(res.body).to.equal(readFileSync(fileURLToPath(import.meta.url), 'utf8'))
    cookieFrom(res)
    const head = await supertest(url).head('/own-cookie').expect(200)
    cookieFrom(head)
  })

  it('survives app writes that come after a failed commit was answered with 503', async () => {
    store.failWrites = true
    const res = await supertest(url).get('/late-writes').expect(503)
    expect(res.body.code).to.equal('ERR_TETHER_STORE_UNAVAILABLE')
    await new Promise((resolve) => setTimeout(resolve, 60))
    expect(lateErrors).to.deep.equal([])
    // The server is still up.
    store.failWrites = false
    await supertest(url).get('/own-cookie').expect(200)
  })

  it('exposes its manager and metrics on the middleware', () => {
    expect(sessions.manager.store).to.equal(store)
    expect(sessions.metrics.get('storeErrors')).to.be.greaterThan(0)
  })

  it('a guard without stickySession() in front is a server error, not an open door', async () => {
    const app = express()
    app.set('env', 'test')
    app.get('/x', requireSession(), (_req, res) => res.send('open'))
    const res = await supertest(app).get('/x')
    expect(res.status).to.equal(500)
  })
})
