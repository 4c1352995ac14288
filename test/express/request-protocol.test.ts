import { stickySession } from '@tether/express'
import { expect } from 'chai'
import express from 'express'
import supertest from 'supertest'
import { TEST_SECRET } from '../support/adapter-drivers.js'
import { cookieFrom, cookieValue, setCookieFor } from '../support/session-cookie.js'

// Whether a request came over TLS decides the cookie's name and Secure flag. The adapter answers
// Express's `req.secure` from the socket when no X-Forwarded-Proto was sent (what Express does);
// these check that an app's own idea of `secure` still wins.
describe('express: whether a request came over TLS', () => {
  /** An app whose `secure` or `protocol` getter believes a header of its own proxy. */
  function appWith(getter: 'secure' | 'protocol') {
    const app = express()
    Object.defineProperty(app.request, getter, {
      get(this: express.Request) {
        const tls = this.get('X-Forwarded-Ssl') === 'on'
        return getter === 'secure' ? tls : tls ? 'https' : 'http'
      },
      configurable: true,
    })
    app.use(stickySession({ secret: TEST_SECRET }))
    app.get('/set', (req, res) => {
      req.session.set('a', true)
      res.json({ ok: true })
    })
    app.get('/read', (req, res) => {
      res.json({ a: req.session.get('a') ?? null })
    })
    return app
  }

  for (const getter of ['secure', 'protocol'] as const) {
    it(`follows an app's own req.${getter} when it moves a session to __Host-`, async () => {
      const app = appWith(getter)
      const plain = cookieFrom(await supertest(app).get('/set').expect(200))
      const over = await supertest(app).get('/read').set('X-Forwarded-Ssl', 'on').set('Cookie', plain)
      expect(over.body).to.deep.equal({ a: true })
      expect(cookieValue(cookieFrom(over, '__Host-tether.sid'))).to.equal(cookieValue(plain))
      const still = await supertest(app).get('/read').set('Cookie', plain).expect(200)
      expect(setCookieFor(still, '__Host-tether.sid')).to.equal(undefined)
    })
  }

  it('keeps the plain name on plain HTTP, with or without a proxy header it does not trust', async () => {
    const app = express()
    app.use(stickySession({ secret: TEST_SECRET }))
    app.get('/set', (req, res) => {
      req.session.set('a', true)
      res.json({ ok: true })
    })
    const plain = cookieFrom(await supertest(app).get('/set').expect(200))
    for (const proto of [undefined, 'https']) {
      const req = supertest(app).get('/set').set('Cookie', plain)
      const res = await (proto === undefined ? req : req.set('X-Forwarded-Proto', proto)).expect(200)
      expect(setCookieFor(res, '__Host-tether.sid')).to.equal(undefined)
    }
  })
})
