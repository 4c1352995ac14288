import { MemoryStore } from '@tether/core'
import { expect } from 'chai'
import { EXPECTED, type Shop, startShop } from '../suites/shop.js'
import { DRIVERS, REPLY_KINDS } from '../support/adapter-drivers.js'
import { cookieFrom, setCookiesOf, storeIdOfCookie } from '../support/session-cookie.js'

for (const driver of DRIVERS) {
  describe(`${driver.name}: commit before the head`, () => {
    let shop: Shop
    afterEach(async () => shop?.close())

    for (const kind of REPLY_KINDS) {
      it(`stores the session before a "${kind}" reply reaches the client`, async () => {
        shop = await startShop(driver)
        // A slow store: a commit running beside or after the response would lose this race.
        shop.store.writeDelay = 40
        const res = await shop.app.get(`/set?key=item&value=${kind}&kind=${kind}`)
        expect(res.status).to.equal(EXPECTED[kind].status)
        const text = kind === 'buffer' ? Buffer.from(res.body).toString() : res.text
        if (EXPECTED[kind].body !== undefined) expect(text).to.equal(EXPECTED[kind].body)
        const cookie = cookieFrom(res)
        const stored = await shop.store.get(storeIdOfCookie(cookie))
        expect(stored?.fields.item).to.equal(JSON.stringify(kind))
      })
    }

    it('keeps the Set-Cookie headers the app set itself', async () => {
      shop = await startShop(driver)
      const res = await shop.app.get('/set?key=a&kind=redirect').expect(302)
      expect(res.headers.location).to.equal('/next')
      expect(setCookiesOf(res)).to.have.length(1)
    })
  })

  describe(`${driver.name}: an in-process store (the commit runs at once, without the event loop)`, () => {
    let shop: Shop
    afterEach(async () => shop?.close())

    for (const kind of REPLY_KINDS) {
      it(`stores the session and sends its cookie with a "${kind}" reply`, async () => {
        const store = new MemoryStore()
        shop = await startShop(driver, { store })
        const res = await shop.app.get(`/set?key=item&value=${kind}&kind=${kind}`)
        expect(res.status).to.equal(EXPECTED[kind].status)
        const text = kind === 'buffer' ? Buffer.from(res.body).toString() : res.text
        if (EXPECTED[kind].body !== undefined) expect(text).to.equal(EXPECTED[kind].body)
        const stored = await store.get(storeIdOfCookie(cookieFrom(res)))
        expect(stored?.fields.item).to.equal(JSON.stringify(kind))
        await store.close()
      })

      it(`turns a "${kind}" reply into a 503 with Retry-After when the store is full`, async () => {
        // One slot, taken by a logged-in (established) session, which is never evicted.
        const store = new MemoryStore({ maxSessions: 1 })
        shop = await startShop(driver, { store })
        await shop.app.post('/login').expect(302)
        const res = await shop.app.get(`/set?key=a&kind=${kind}`)
        expect(res.status).to.equal(503)
        expect(res.headers['retry-after']).to.equal('5')
        expect(res.body).to.deep.equal({
          error: 'session store unavailable',
          code: 'ERR_TETHER_STORE_UNAVAILABLE',
        })
        expect(setCookiesOf(res)).to.deep.equal([])
        expect(shop.metrics.get('storeErrors')).to.equal(1)
        await store.close()
      })
    }
  })

  describe(`${driver.name}: a failing store`, () => {
    let shop: Shop
    afterEach(async () => shop?.close())

    for (const kind of REPLY_KINDS) {
      it(`turns a "${kind}" reply into a 503 with Retry-After when the commit fails`, async () => {
        shop = await startShop(driver)
        shop.store.failWrites = true
        const res = await shop.app.get(`/set?key=a&kind=${kind}`)
        expect(res.status).to.equal(503)
        expect(res.headers['retry-after']).to.equal('5')
        expect(res.headers['content-type']).to.match(/^application\/json/)
        expect(res.body).to.deep.equal({
          error: 'session store unavailable',
          code: 'ERR_TETHER_STORE_UNAVAILABLE',
        })
        expect(setCookiesOf(res)).to.deep.equal([])
        expect(res.headers.location).to.equal(undefined)
        expect(shop.metrics.get('storeErrors')).to.equal(1)
      })
    }

    it('answers 503 when the session cannot be loaded, with the configured Retry-After', async () => {
      shop = await startShop(driver, { retryAfter: 30 })
      const cookie = cookieFrom(await shop.app.get('/set?key=a').expect(200))
      shop.store.failReads = true
      const res = await shop.app.get('/read').set('Cookie', cookie).expect(503)
      expect(res.headers['retry-after']).to.equal('30')
      expect(res.body.code).to.equal('ERR_TETHER_STORE_UNAVAILABLE')
    })

    it('leaves the session as it was after a 503, and takes writes again once the store is back', async () => {
      shop = await startShop(driver)
      const cookie = cookieFrom(await shop.app.get('/set?key=a').expect(200))
      shop.store.failWrites = true
      await shop.app.get('/set?key=b').set('Cookie', cookie).expect(503)
      shop.store.failWrites = false
      // The client was told the write failed: nothing of it may appear later.
      const before = await shop.app.get('/read').set('Cookie', cookie).expect(200)
      expect(before.body.values).to.deep.equal({ a: true })
      await shop.app.get('/set?key=c').set('Cookie', cookie).expect(200)
      const after = await shop.app.get('/read').set('Cookie', cookie).expect(200)
      expect(after.body.values).to.deep.equal({ a: true, c: true })
    })

    it('does not touch the store for a request without a session, even while it is down', async () => {
      shop = await startShop(driver)
      shop.store.failReads = true
      shop.store.failWrites = true
      const res = await shop.app.get('/reply?kind=text').expect(200)
      expect(res.text).to.equal('ok')
      expect(shop.store.totalCalls).to.equal(0)
    })
  })
}
