import { Agent } from 'node:http'
import { ROUTE_ENV } from '@tether/core/adapter'
import { expect } from 'chai'
import { type Shop, startShop } from '../suites/shop.js'
import { DRIVERS } from '../support/adapter-drivers.js'
import { cookieFrom } from '../support/session-cookie.js'
import { SwitchableStore } from '../support/switchable-store.js'

for (const driver of DRIVERS) {
  describe(`${driver.name}: a session owned by another worker (misrouted keep-alive)`, () => {
    const saved = process.env[ROUTE_ENV]
    const store = new SwitchableStore()
    let owner: Shop
    let other: Shop | undefined
    let cookie: string
    // Keep-alive, as a proxy's connection pool would be; otherwise every answer says close anyway.
    const pool = new Agent({ keepAlive: true })

    before(async () => {
      // The owner, worker w2, issues the session; the shared store lets w1 load it too.
      owner = await startShop(driver, { store, route: 'w2' })
      cookie = cookieFrom(await owner.app.get('/set?key=a').expect(200))
      expect(cookie).to.include('.w2.')
    })
    beforeEach(() => {
      process.env[ROUTE_ENV] = 'w1'
    })
    afterEach(async () => {
      if (saved === undefined) delete process.env[ROUTE_ENV]
      else process.env[ROUTE_ENV] = saved
      await other?.close()
      other = undefined
    })
    after(async () => {
      await owner.close()
      await store.close()
      pool.destroy()
    })

    it('answers with Connection: close and counts a misroute', async () => {
      other = await startShop(driver, { store })
      const res = await other.app.get('/read').agent(pool).set('Cookie', cookie).expect(200)
      expect(res.headers.connection).to.equal('close')
      expect(res.body.values).to.deep.equal({ a: true })
      expect(other.metrics.get('misroutes')).to.equal(1)
    })

    it('keeps the connection when the cluster handed this connection over for that route', async () => {
      other = await startShop(driver, { store }, { connectionRoute: 'w2' })
      const res = await other.app.get('/read').agent(pool).set('Cookie', cookie).expect(200)
      expect(res.headers.connection).to.equal('keep-alive')
      expect(other.metrics.get('misroutes')).to.equal(0)
    })

    it('does not replace the client’s cookie when its session lives only with the owner', async () => {
      // Each worker with a store of its own (MemoryStore): this one cannot load the w2 session.
      other = await startShop(driver, { store: new SwitchableStore() })
      const res = await other.app.get('/set?key=b').agent(pool).set('Cookie', cookie).expect(200)
      expect(res.headers.connection).to.equal('close')
      // A new session here would have overwritten the cookie of the real one.
      expect(res.headers['set-cookie']).to.equal(undefined)
      expect(other.metrics.get('misroutes')).to.equal(1)
      // Back at its owner, the real session is intact.
      const back = await owner.app.get('/read').set('Cookie', cookie).expect(200)
      expect(back.body.values).to.deep.equal({ a: true })
    })

    it('keeps the connection for sessions of its own route', async () => {
      other = await startShop(driver, { store })
      const own = cookieFrom(await other.app.get('/set?key=b').expect(200))
      expect(own).to.include('.w1.')
      const res = await other.app.get('/read').agent(pool).set('Cookie', own).expect(200)
      expect(res.headers.connection).to.equal('keep-alive')
      expect(other.metrics.get('misroutes')).to.equal(0)
    })
  })
}
