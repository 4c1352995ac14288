import { randomBytes } from 'node:crypto'
import { expect } from 'chai'
import sinon from 'sinon'
import { type Shop, startShop } from '../suites/shop.js'
import { DRIVERS, OTHER_SECRET, TEST_SECRET } from '../support/adapter-drivers.js'
import { cookieFrom, cookieValue, setCookieFor, setCookiesOf } from '../support/session-cookie.js'
import { SwitchableStore } from '../support/switchable-store.js'

const b64 = (bytes: number) => randomBytes(bytes).toString('base64url')

/** Changes one character of `text` at `index` to another of the base64url alphabet. */
function flip(text: string, index: number): string {
  const ch = text[index] === 'A' ? 'B' : 'A'
  return text.slice(0, index) + ch + text.slice(index + 1)
}

for (const driver of DRIVERS) {
  describe(`${driver.name}: session life`, () => {
    let shop: Shop
    let clock: sinon.SinonFakeTimers | undefined
    afterEach(async () => {
      clock?.restore()
      clock = undefined
      await shop?.close()
    })

    it('counts across requests with the kept cookie', async () => {
      shop = await startShop(driver)
      const first = await shop.app.get('/incr').expect(200)
      expect(first.body.count).to.equal(1)
      const cookie = cookieFrom(first)
      for (const expected of [2, 3, 4]) {
        const res = await shop.app.get('/incr').set('Cookie', cookie).expect(200)
        expect(res.body.count).to.equal(expected)
      }
      expect(shop.metrics.get('created')).to.equal(1)
    })

    it('regenerate() issues a new cookie, keeps the data and kills the old cookie', async () => {
      shop = await startShop(driver)
      const before = cookieFrom(await shop.app.get('/set?key=cart&value=apples'))
      const login = await shop.app.post('/login').set('Cookie', before).expect(302)
      expect(login.headers.location).to.equal('/cart')
      const after = cookieFrom(login)
      expect(after).not.to.equal(before)
      const current = await shop.app.get('/read').set('Cookie', after).expect(200)
      expect(current.body.values).to.deep.equal({ cart: 'apples', user: { id: 42, role: 'user' } })
      const old = await shop.app.get('/read').set('Cookie', before).expect(200)
      expect(old.body).to.deep.equal({ isNew: true, values: {} })
    })

    describe('session fixation', () => {
      it('never adopts a cookie value chosen by an attacker', async () => {
        shop = await startShop(driver)
        const planted = `tether.sid=${b64(32)}.solo.${b64(16)}`
        const res = await shop.app.post('/login').set('Cookie', planted).expect(302)
        const issued = cookieFrom(res)
        expect(issued).not.to.equal(planted)
        expect(cookieValue(issued).split('.')[0]).not.to.equal(cookieValue(planted).split('.')[0])
        expect(shop.metrics.get('rejectedMac')).to.equal(1)
      })

      it("a session the attacker obtained and planted is worthless after the victim's login", async () => {
        shop = await startShop(driver)
        const attackers = cookieFrom(await shop.app.get('/set?key=planted'))
        const victim = cookieFrom(
          await shop.app.post('/login?role=admin').set('Cookie', attackers).expect(302),
        )
        expect(victim).not.to.equal(attackers)
        await shop.app.get('/admin').set('Cookie', attackers).expect(401)
        await shop.app.get('/admin').set('Cookie', victim).expect(200)
      })
    })

    describe('forged, truncated and tampered cookies give a fresh session without a store call', () => {
      let good: string
      const variants: Array<[string, (value: string) => string]> = [
        ['truncated', (v) => v.slice(0, -3)],
        ['with a tampered token', (v) => flip(v, 5)],
        ['with a tampered route', (v) => v.replace('.solo.', '.sola.')],
        ['with a tampered MAC', (v) => flip(v, v.length - 2)],
        ['forged with random parts', () => `${b64(32)}.solo.${b64(16)}`],
        ['signed with another secret', () => 'x'],
        ['empty', () => ''],
        ['garbage', () => '%%%;;;\u00ff'.repeat(20)],
        ['huge', (v) => v.repeat(100)],
      ]
      for (const [what, mutate] of variants) {
        it(what, async () => {
          const other = await startShop(driver, { secret: OTHER_SECRET })
          const foreign = cookieValue(cookieFrom(await other.app.get('/set?key=x')))
          await other.close()
          shop = await startShop(driver)
          good = cookieValue(cookieFrom(await shop.app.get('/set?key=secret&value=s3cr3t')))
          const calls = shop.store.totalCalls
          const value = what === 'signed with another secret' ? foreign : mutate(good)
          const res = await shop.app.get('/read').set('Cookie', `tether.sid=${value}`).expect(200)
          expect(res.body).to.deep.equal({ isNew: true, values: {} })
          expect(setCookiesOf(res)).to.deep.equal([])
          expect(shop.store.totalCalls).to.equal(calls)
          const rejected = shop.metrics.get('rejectedFormat') + shop.metrics.get('rejectedMac')
          expect(rejected).to.equal(1)
        })
      }
    })

    it('destroy() expires the cookie and the old cookie has no session afterwards', async () => {
      shop = await startShop(driver)
      const cookie = cookieFrom(await shop.app.post('/login').expect(302))
      const logout = await shop.app.post('/logout').set('Cookie', cookie).expect(204)
      const line = setCookieFor(logout)!
      expect(line).to.match(/^tether\.sid=;/)
      expect(line).to.include('Max-Age=0')
      expect(line).to.include('Expires=Thu, 01 Jan 1970 00:00:00 GMT')
      const after = await shop.app.get('/read').set('Cookie', cookie).expect(200)
      expect(after.body).to.deep.equal({ isNew: true, values: {} })
      await shop.app.get('/cart').set('Cookie', cookie).expect(401)
      expect(shop.store.size).to.equal(0)
    })

    it('a secret rotation keeps old cookies valid and re-issues them under the new secret', async () => {
      const store = new SwitchableStore()
      try {
        shop = await startShop(driver, { store, secret: TEST_SECRET })
        const old = cookieFrom(await shop.app.get('/set?key=cart&value=pears'))
        await shop.close()
        shop = await startShop(driver, { store, secret: [OTHER_SECRET, TEST_SECRET] })
        const res = await shop.app.get('/read').set('Cookie', old).expect(200)
        expect(res.body.values).to.deep.equal({ cart: 'pears' })
        const renewed = cookieFrom(res)
        expect(renewed).not.to.equal(old)
        // Same session (token), new signature.
        expect(cookieValue(renewed).split('.')[0]).to.equal(cookieValue(old).split('.')[0])
        expect(shop.metrics.get('reissued')).to.equal(1)
        await shop.close()
        shop = await startShop(driver, { store, secret: OTHER_SECRET })
        const later = await shop.app.get('/read').set('Cookie', renewed).expect(200)
        expect(later.body.values).to.deep.equal({ cart: 'pears' })
        const retired = await shop.app.get('/read').set('Cookie', old).expect(200)
        expect(retired.body.isNew).to.equal(true)
      } finally {
        await store.close()
      }
    })

    describe('timeouts (fake clock)', () => {
      it('ends a session idle for longer than idleTimeout', async () => {
        shop = await startShop(driver, { idleTimeout: 60_000, absoluteTimeout: 3_600_000 })
        clock = sinon.useFakeTimers({ toFake: ['Date'], now: Date.now() })
        const cookie = cookieFrom(await shop.app.get('/set?key=a'))
        clock.tick(59_000)
        const alive = await shop.app.get('/read').set('Cookie', cookie).expect(200)
        expect(alive.body.values).to.deep.equal({ a: true })
        // That read was activity: the window slides from it.
        clock.tick(59_000)
        await shop.app.get('/read').set('Cookie', cookie).expect(200)
        const stillAlive = await shop.app.get('/read').set('Cookie', cookie).expect(200)
        expect(stillAlive.body.isNew).to.equal(false)
        clock.tick(60_001)
        const gone = await shop.app.get('/read').set('Cookie', cookie).expect(200)
        expect(gone.body).to.deep.equal({ isNew: true, values: {} })
      })

      it('ends a session older than absoluteTimeout however active it is', async () => {
        shop = await startShop(driver, { idleTimeout: 60_000, absoluteTimeout: 300_000 })
        clock = sinon.useFakeTimers({ toFake: ['Date'], now: Date.now() })
        const cookie = cookieFrom(await shop.app.get('/set?key=a'))
        for (let minute = 1; minute <= 4; minute++) {
          clock.tick(59_000)
          const res = await shop.app.get(`/set?key=m${minute}`).set('Cookie', cookie).expect(200)
          expect(setCookiesOf(res)).to.deep.equal([])
        }
        clock.tick(59_000) // 295 s after creation: still inside the absolute window
        const alive = await shop.app.get('/read').set('Cookie', cookie).expect(200)
        expect(alive.body.isNew).to.equal(false)
        clock.tick(6_000) // 301 s
        const gone = await shop.app.get('/read').set('Cookie', cookie).expect(200)
        expect(gone.body).to.deep.equal({ isNew: true, values: {} })
      })
    })
  })
}
