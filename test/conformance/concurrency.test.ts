import { expect } from 'chai'
import { type Shop, startShop } from '../suites/shop.js'
import { DRIVERS } from '../support/adapter-drivers.js'
import { cookieFrom } from '../support/session-cookie.js'

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

/** Polls `check` every few ms, for at most two seconds. */
async function eventually(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  throw new Error(`timed out waiting for ${what}`)
}

for (const driver of DRIVERS) {
  describe(`${driver.name}: a commit waits for its own changes only`, () => {
    let shop: Shop
    afterEach(async () => {
      shop.store.holdWrites = false
      for (const release of shop.store.heldWrites.splice(0)) release()
      await shop?.close()
    })

    it('answers once its change is stored, while a later request of the session is still writing', async () => {
      shop = await startShop(driver)
      const cookie = cookieFrom(await shop.app.get('/set?key=start'))
      shop.store.holdWrites = true
      const first = shop.app
        .get('/set?key=a')
        .set('Cookie', cookie)
        .then((res) => res)
      await eventually('the first write to be held', () => shop.store.heldWrites.length === 1)
      const second = shop.app
        .get('/set?key=b')
        .set('Cookie', cookie)
        .then((res) => res)
      // A reader joins the live session and sees b once the second handler ran (its commit then
      // queues behind the first write). A reader changes nothing, so its commit waits for nobody.
      await eventually('the second change', async () => {
        const res = await shop.app.get('/read').set('Cookie', cookie)
        return res.body.values.b === true
      })
      shop.store.heldWrites[0]!()
      // The first request's change is stored: it must be answered now, although the write that
      // carries b is held (under steady traffic such later changes never stop coming).
      expect((await first).status).to.equal(200)
      await eventually('the second write to be held', () => shop.store.heldWrites.length === 2)
      shop.store.heldWrites[1]!()
      expect((await second).status).to.equal(200)
      shop.store.holdWrites = false
      const read = await shop.app.get('/read').set('Cookie', cookie).expect(200)
      expect(read.body.values).to.deep.equal({ start: true, a: true, b: true })
    })
  })
}
