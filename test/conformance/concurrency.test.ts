import { expect } from 'chai'
import { DRIVERS } from '../support/adapter-drivers.js'
import { cookieFrom } from '../support/session-cookie.js'
import { type Shop, startShop } from './shop.js'

const PARALLEL = 50

for (const driver of DRIVERS) {
  describe(`${driver.name}: concurrent requests of one session`, () => {
    let shop: Shop
    afterEach(async () => shop?.close())

    it(`${PARALLEL} parallel requests that each set a different key all survive`, async () => {
      shop = await startShop(driver)
      const cookie = cookieFrom(await shop.app.get('/set?key=start'))
      const responses = await Promise.all(
        Array.from({ length: PARALLEL }, (_, i) =>
          shop.app.get(`/set-later?key=k${i}&ms=${(i * 7) % 20}`).set('Cookie', cookie),
        ),
      )
      for (const res of responses) expect(res.status).to.equal(200)
      const read = await shop.app.get('/read').set('Cookie', cookie).expect(200)
      const keys = Object.keys(read.body.values)
      expect(keys).to.have.length(PARALLEL + 1)
      for (let i = 0; i < PARALLEL; i++) expect(read.body.values[`k${i}`]).to.equal(true)
    })

    it(`${PARALLEL} parallel increments of one counter end at ${PARALLEL}`, async () => {
      shop = await startShop(driver)
      const cookie = cookieFrom(await shop.app.get('/set?key=count&value=0'))
      const responses = await Promise.all(
        Array.from({ length: PARALLEL }, () => shop.app.get('/incr').set('Cookie', cookie)),
      )
      const seen = responses.map((res) => res.body.count as number).sort((a, b) => a - b)
      expect(seen).to.deep.equal(Array.from({ length: PARALLEL }, (_, i) => i + 1))
      const read = await shop.app.get('/read').set('Cookie', cookie).expect(200)
      expect(read.body.values.count).to.equal(PARALLEL)
    })

    it('a slow request that finishes after destroy() does not bring the session back', async () => {
      shop = await startShop(driver)
      const cookie = cookieFrom(await shop.app.post('/login').expect(302))
      const slow = shop.app
        .get('/gated-set?gate=slow&key=late')
        .set('Cookie', cookie)
        .then((res) => res)
      await shop.gates.reached('slow')
      await shop.app.post('/logout').set('Cookie', cookie).expect(204)
      shop.gates.open('slow')
      const late = await slow
      expect(late.status).to.equal(200)
      // Only the request that destroyed the session clears the cookie; the slow one sends none.
      expect(late.headers['set-cookie']).to.equal(undefined)
      const read = await shop.app.get('/read').set('Cookie', cookie).expect(200)
      expect(read.body).to.deep.equal({ isNew: true, values: {} })
      expect(shop.store.size).to.equal(0)
    })

    it('a slow request sees and keeps what a faster request of its session wrote meanwhile', async () => {
      shop = await startShop(driver)
      const cookie = cookieFrom(await shop.app.get('/set?key=count&value=0'))
      const slow = shop.app
        .get('/gated-incr?gate=slow')
        .set('Cookie', cookie)
        .then((res) => res)
      await shop.gates.reached('slow')
      for (let i = 0; i < 3; i++) await shop.app.get('/incr').set('Cookie', cookie).expect(200)
      shop.gates.open('slow')
      expect((await slow).body.count).to.equal(4)
      const read = await shop.app.get('/read').set('Cookie', cookie).expect(200)
      expect(read.body.values.count).to.equal(4)
    })
  })
}
