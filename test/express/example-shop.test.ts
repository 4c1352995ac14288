import { expect } from 'chai'
import supertest from 'supertest'
import { type RunningExample, startExample } from '../support/example-process.js'
import { walkThroughShop } from '../support/shop-scenario.js'

describe('examples/express-shop (as a process)', () => {
  let shop: RunningExample
  before(async () => {
    shop = await startExample('express-shop')
  })
  after(async () => shop?.stop())

  it('prints its URL and warns about the demo secret when SESSION_SECRET is unset', () => {
    expect(shop.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(shop.output()).to.include('SESSION_SECRET is not set')
  })

  it('serves its page', async () => {
    const res = await supertest(shop.url).get('/').expect(200)
    expect(res.text).to.include('Tether shop')
  })

  it('supports login, cart, admin guard and logout', async () => {
    await walkThroughShop(shop.url)
  })
})
