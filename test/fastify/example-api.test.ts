import { expect } from 'chai'
import { type RunningExample, startExample } from '../support/example-process.js'
import { walkThroughShop } from '../support/shop-scenario.js'

describe('examples/fastify-api (as a process)', () => {
  let api: RunningExample
  before(async () => {
    api = await startExample('fastify-api', { SESSION_SECRET: 'a-real-secret-for-this-test-0123456789' })
  })
  after(async () => api?.stop())

  it('prints its URL', () => {
    expect(api.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(api.output()).not.to.include('SESSION_SECRET is not set')
  })

  it('supports login, cart, admin guard and logout', async () => {
    await walkThroughShop(api.url)
  })
})
