import { expect } from 'chai'
import { type Shop, startShop } from '../suites/shop.js'
import { DRIVERS } from '../support/adapter-drivers.js'
import { cookieFrom } from '../support/session-cookie.js'

for (const driver of DRIVERS) {
  describe(`${driver.name}: requireSession()`, () => {
    let shop: Shop
    afterEach(async () => shop?.close())

    it('answers 401 with a small JSON error when there is no session', async () => {
      shop = await startShop(driver)
      const res = await shop.app.get('/cart').expect(401)
      expect(res.headers['content-type']).to.match(/^application\/json/)
      expect(res.body).to.deep.equal({ error: 'session required' })
    })

    it('answers 401 for a forged cookie and for a session that exists only in this request', async () => {
      shop = await startShop(driver)
      await shop.app.get('/cart').set('Cookie', 'tether.sid=forged').expect(401)
      expect(shop.store.size).to.equal(0)
    })

    it('lets a request with a valid session through', async () => {
      shop = await startShop(driver)
      const cart = encodeURIComponent(JSON.stringify(['apples']))
      const cookie = cookieFrom(await shop.app.get(`/set?key=cart&value=${cart}`))
      const res = await shop.app.get('/cart').set('Cookie', cookie).expect(200)
      expect(res.body).to.deep.equal(['apples'])
    })

    for (const path of ['/admin', '/admin-async']) {
      const kind = path === '/admin' ? 'sync' : 'async'
      it(`answers 403 when a ${kind} predicate returns false, and passes when it returns true`, async () => {
        shop = await startShop(driver)
        const user = cookieFrom(await shop.app.post('/login?role=user').expect(302))
        const forbidden = await shop.app.get(path).set('Cookie', user).expect(403)
        expect(forbidden.body).to.deep.equal({ error: 'forbidden' })
        const admin = cookieFrom(await shop.app.post('/login?role=admin').expect(302))
        const ok = await shop.app.get(path).set('Cookie', admin).expect(200)
        expect(ok.body).to.deep.equal({ admin: true })
        await shop.app.get(path).expect(401)
      })
    }

    it('uses the configured statuses and bodies (a string body is sent as text)', async () => {
      shop = await startShop(driver)
      const none = await shop.app.get('/custom-guard').expect(419)
      expect(none.headers['content-type']).to.match(/^text\/plain/)
      expect(none.text).to.equal('log in first')
      const cookie = cookieFrom(await shop.app.post('/login').expect(302))
      const refused = await shop.app.get('/custom-guard').set('Cookie', cookie).expect(451)
      expect(refused.body).to.deep.equal({ reason: 'nope' })
    })
  })
}
