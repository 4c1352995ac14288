import type { AddressInfo } from 'node:net'
import { fromExpressSessionStore, MemoryStore } from '@tether/core'
import { stickySession } from '@tether/express'
import { expect } from 'chai'
import express from 'express'
import session from 'express-session'
import supertest from 'supertest'
import { TEST_SECRET } from '../support/adapter-drivers.js'
import { expressSessionCounterApp } from '../support/express-session-app.js'
import { cookieFrom } from '../support/session-cookie.js'

async function listen(app: express.Express) {
  const server = app.listen(0, '127.0.0.1')
  await new Promise<void>((resolve) => server.once('listening', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url,
    close: () => {
      server.closeAllConnections()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

describe('express: express-session interop', () => {
  it('an express-session store (its MemoryStore) backs stickySession()', async () => {
    const backing = new session.MemoryStore()
    const sessions = stickySession({ secret: TEST_SECRET, store: fromExpressSessionStore(backing) })
    const app = express()
    app.use(sessions)
    app.get('/count', (req, res) => {
      const n = ((req.session.get('n') as number | undefined) ?? 0) + 1
      req.session.set('n', n)
      res.json({ n })
    })
    app.post('/login', async (req, res) => {
      await req.session.regenerate()
      res.redirect('/count')
    })
    app.post('/logout', async (req, res) => {
      await req.session.destroy()
      res.end()
    })
    const server = await listen(app)
    try {
      const first = await supertest(server.url).get('/count').expect(200, { n: 1 })
      let cookie = cookieFrom(first)
      await supertest(server.url).get('/count').set('Cookie', cookie).expect(200, { n: 2 })
      const login = await supertest(server.url).post('/login').set('Cookie', cookie).expect(302)
      const old = cookie
      cookie = cookieFrom(login)
      await supertest(server.url).get('/count').set('Cookie', cookie).expect(200, { n: 3 })
      await supertest(server.url).get('/count').set('Cookie', old).expect(200, { n: 1 })
      const ids = await new Promise<string[]>((resolve, reject) =>
        backing.all((error, all) => (error ? reject(error) : resolve(Object.keys(all ?? {})))),
      )
      // The regenerated session and the fresh one started with the dead cookie; never the old one.
      expect(ids).to.have.length(2)
      await supertest(server.url).post('/logout').set('Cookie', cookie).expect(200)
      await supertest(server.url).get('/count').set('Cookie', cookie).expect(200, { n: 1 })
    } finally {
      await server.close()
      await sessions.close()
    }
  })

  it('a Tether MemoryStore backs express-session in an Express app', async () => {
    const store = new MemoryStore()
    const server = await listen(expressSessionCounterApp(TEST_SECRET, store))
    try {
      const first = await supertest(server.url).get('/count').expect(200, { n: 1 })
      const cookie = cookieFrom(first, 'connect.sid')
      await supertest(server.url).get('/count').set('Cookie', cookie).expect(200, { n: 2 })
      await supertest(server.url).get('/count').set('Cookie', cookie).expect(200, { n: 3 })
      expect(await store.count()).to.equal(1)
      await supertest(server.url).post('/logout').set('Cookie', cookie).expect(200)
      expect(await store.count()).to.equal(0)
    } finally {
      await server.close()
      await store.close()
    }
  })
})
