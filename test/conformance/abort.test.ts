import { request as httpRequest } from 'node:http'
import { expect } from 'chai'
import { storeIdOf } from '../../packages/core/src/crypto/session-id.js'
import { type Shop, startShop } from '../suites/shop.js'
import { DRIVERS } from '../support/adapter-drivers.js'
import { cookieFrom, cookieValue } from '../support/session-cookie.js'

/** Polls `check` every few ms, for at most two seconds. */
async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  throw new Error(`timed out waiting for ${what}`)
}

for (const driver of DRIVERS) {
  describe(`${driver.name}: aborted requests release their session exactly once`, () => {
    let shop: Shop
    afterEach(async () => shop?.close())

    /** Sends a request, waits until its handler holds the session at `gate`, then hangs up. */
    async function abortAtGate(cookie: string, gate: string, key: string): Promise<void> {
      const req = httpRequest(`${shop.app.url}/gated-set?gate=${gate}&key=${key}`, { headers: { cookie } })
      req.on('error', () => undefined)
      req.end()
      await shop.gates.reached(gate)
      const before = await shop.app.connections()
      req.destroy()
      await eventually('the server to see the hang-up', async () => (await shop.app.connections()) < before)
      shop.gates.open(gate)
      // The handler goes on after the hang-up; wait until its change is in the shared session.
      await eventually(`${key} to be set`, async () => {
        const res = await shop.app.get('/read').set('Cookie', cookie)
        return res.body.values[key] === true
      })
    }

    it('keeps sharing the session with the requests still running (no extra release)', async () => {
      shop = await startShop(driver)
      const cookie = cookieFrom(await shop.app.get('/set?key=count&value=0'))
      const holder = shop.app
        .get('/gated-incr?gate=holder')
        .set('Cookie', cookie)
        .then((res) => res)
      await shop.gates.reached('holder')
      for (let i = 0; i < 3; i++) await abortAtGate(cookie, `aborted${i}`, `b${i}`)
      // Had an aborted request released twice, the holder's live session would have been dropped
      // and this request would load its own copy: the two increments would then end at 1.
      const middle = await shop.app.get('/incr').set('Cookie', cookie).expect(200)
      expect(middle.body.count).to.equal(1)
      shop.gates.open('holder')
      expect((await holder).body.count).to.equal(2)
      const read = await shop.app.get('/read').set('Cookie', cookie).expect(200)
      expect(read.body.values).to.deep.equal({ count: 2, b0: true, b1: true, b2: true })
    })

    it('lets go of the session afterwards (no hold leaks): a change made in the store is seen', async () => {
      shop = await startShop(driver)
      const cookie = cookieFrom(await shop.app.get('/set?key=count&value=0'))
      for (let i = 0; i < 3; i++) await abortAtGate(cookie, `aborted${i}`, `b${i}`)
      await eventually('every connection to close', async () => (await shop.app.connections()) === 0)
      // Another process changes the session behind this one's back. A worker still holding a live
      // copy would keep serving its stale count.
      const id = storeIdOf(cookieValue(cookie).split('.')[0]!)
      const stored = (await shop.store.get(id))!
      const now = Date.now()
      await shop.store.write(id, {
        set: { count: '100' },
        unset: [],
        createdAt: stored.createdAt,
        touchedAt: now,
        expiresAt: now + 60_000,
        established: false,
        create: false,
      })
      const read = await shop.app.get('/read').set('Cookie', cookie).expect(200)
      expect(read.body.values.count).to.equal(100)
    })
  })
}
