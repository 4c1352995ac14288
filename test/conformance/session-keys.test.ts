import { expect } from 'chai'
import { type Shop, startShop } from '../suites/shop.js'
import { PROTOTYPE_KEYS } from '../suites/store-contract.js'
import { DRIVERS } from '../support/adapter-drivers.js'
import { cookieFrom } from '../support/session-cookie.js'

for (const driver of DRIVERS) {
  describe(`${driver.name}: session keys named like Object.prototype members`, () => {
    let shop: Shop
    afterEach(() => shop?.close())

    for (const key of PROTOTYPE_KEYS) {
      it(`stores "${key}" like any key and reads it back on the next request`, async () => {
        shop = await startShop(driver)
        const value = encodeURIComponent('{"role":"admin"}')
        const first = await shop.app.get(`/set?key=${key}&value=${value}`).expect(200)
        const read = await shop.app.get('/read').set('Cookie', cookieFrom(first)).expect(200)
        expect(read.body.isNew).to.equal(false)
        expect(Object.keys(read.body.values)).to.deep.equal([key])
        expect(Object.getOwnPropertyDescriptor(read.body.values, key)?.value).to.deep.equal({ role: 'admin' })
        expect(({} as Record<string, unknown>).role).to.equal(undefined)
      })
    }
  })
}
