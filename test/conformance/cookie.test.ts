import { randomBytes } from 'node:crypto'
import { expect } from 'chai'
import { type Shop, startShop } from '../suites/shop.js'
import { DRIVERS } from '../support/adapter-drivers.js'
import { cookieFrom, cookieValue, setCookieFor, setCookiesOf } from '../support/session-cookie.js'

const b64 = (bytes: number) => randomBytes(bytes).toString('base64url')

for (const driver of DRIVERS) {
  describe(`${driver.name}: the session cookie`, () => {
    let shop: Shop
    afterEach(async () => shop?.close())

    it('is HttpOnly, SameSite=Lax, Path=/ and not Secure over plain HTTP by default', async () => {
      shop = await startShop(driver)
      const res = await shop.app.get('/set?key=a&value=1').expect(200)
      const line = setCookieFor(res)!
      expect(line).to.match(/^tether\.sid=[A-Za-z0-9_-]{43}\.solo\.[A-Za-z0-9_-]{22}; /)
      expect(line).to.include('; Path=/')
      expect(line).to.include('; HttpOnly')
      expect(line).to.include('; SameSite=Lax')
      expect(line).not.to.include('Secure')
      expect(line).not.to.include('Max-Age')
      expect(line).not.to.include('Domain')
    })

    it('is Secure and named __Host-tether.sid when a trusted proxy says the request came over HTTPS', async () => {
      shop = await startShop(driver, {}, { trustProxy: true })
      const res = await shop.app.get('/set?key=a').set('X-Forwarded-Proto', 'https').expect(200)
      const line = setCookieFor(res, '__Host-tether.sid')!
      expect(line).to.include('; Secure')
      expect(line).to.include('; Path=/')
      expect(line).not.to.include('Domain')
      expect(setCookieFor(res)).to.equal(undefined)
      const read = await shop.app
        .get('/read')
        .set('X-Forwarded-Proto', 'https')
        .set('Cookie', cookieFrom(res, '__Host-tether.sid'))
      expect(read.body.values).to.deep.equal({ a: true })
    })

    it('keeps the plain name with a domain, even over HTTPS', async () => {
      shop = await startShop(driver, { cookie: { domain: 'example.test' } }, { trustProxy: true })
      const res = await shop.app.get('/set?key=a').set('X-Forwarded-Proto', 'https').expect(200)
      expect(setCookieFor(res)).to.include('; Secure').and.to.include('; Domain=example.test')
    })

    it('moves a session found under the plain name to __Host- on its first HTTPS request', async () => {
      shop = await startShop(driver, {}, { trustProxy: true })
      const plain = cookieFrom(await shop.app.get('/set?key=a').expect(200))
      const res = await shop.app.get('/read').set('X-Forwarded-Proto', 'https').set('Cookie', plain)
      expect(res.body.values).to.deep.equal({ a: true })
      expect(cookieValue(cookieFrom(res, '__Host-tether.sid'))).to.equal(cookieValue(plain))
    })

    describe('cookie tossing: planted cookies of the same name before the real one', () => {
      /** Cookies a sibling subdomain can plant: well-formed, signed by nobody we know. */
      const tossed = (name: string, n: number) =>
        Array.from({ length: n }, () => `${name}=${b64(32)}.solo.${b64(16)}`).join('; ')

      it('over HTTP, still find the real session (every value is tried, first that verifies wins)', async () => {
        shop = await startShop(driver)
        const real = cookieFrom(await shop.app.get('/set?key=a').expect(200))
        const res = await shop.app.get('/read').set('Cookie', `${tossed('tether.sid', 5)}; ${real}`)
        expect(res.body).to.deep.equal({ isNew: false, values: { a: true } })
        expect(setCookiesOf(res)).to.deep.equal([])
        expect(shop.metrics.get('rejectedMac')).to.equal(5)
        // Counted against the address they came from: a brute-force signal.
        const [from] = (await shop.metrics.snapshot()).rejectedByClient
        expect(from?.count).to.equal(5)
        expect(from?.client).to.match(/^(::ffff:)?127\.0\.0\.1$/)
      })

      it('over HTTPS, never shadow the __Host- cookie, even with a valid session of their own', async () => {
        shop = await startShop(driver, {}, { trustProxy: true })
        const https = (req: ReturnType<typeof shop.app.get>) => req.set('X-Forwarded-Proto', 'https')
        const own = cookieFrom(await shop.app.get('/set?key=attacker').expect(200))
        const real = cookieFrom(await https(shop.app.get('/set?key=victim')), '__Host-tether.sid')
        const res = await https(shop.app.get('/read')).set(
          'Cookie',
          `${tossed('tether.sid', 5)}; ${own}; ${real}`,
        )
        expect(res.body).to.deep.equal({ isNew: false, values: { victim: true } })
      })
    })

    it('ignores X-Forwarded-Proto when the proxy is not trusted', async () => {
      shop = await startShop(driver, {}, { trustProxy: false })
      const res = await shop.app.get('/set?key=a').set('X-Forwarded-Proto', 'https').expect(200)
      expect(setCookieFor(res)).not.to.include('Secure')
    })

    it('takes its name, domain, maxAge and sameSite from the options', async () => {
      shop = await startShop(driver, {
        cookie: { name: 'shop', domain: 'example.test', maxAge: 60_000, sameSite: 'strict' },
      })
      const res = await shop.app.get('/set?key=a').expect(200)
      const line = setCookieFor(res, 'shop')!
      expect(line).to.include('; Domain=example.test')
      expect(line).to.include('; Max-Age=60; Expires=')
      expect(line).to.include('; SameSite=Strict')
      const cookie = cookieFrom(res, 'shop')
      const read = await shop.app.get('/read').set('Cookie', cookie).expect(200)
      expect(read.body).to.deep.equal({ isNew: false, values: { a: true } })
    })

    it('re-sends a cookie with maxAge whenever the session is written, so its expiry slides', async () => {
      shop = await startShop(driver, { cookie: { maxAge: 60_000 } })
      const cookie = cookieFrom(await shop.app.get('/set?key=a'))
      const res = await shop.app.get('/set?key=b').set('Cookie', cookie).expect(200)
      expect(cookieFrom(res)).to.equal(cookie)
    })

    it('uses the __Host- prefix with Secure and Path=/ when hostPrefix is set', async () => {
      shop = await startShop(driver, { cookie: { hostPrefix: true } })
      const res = await shop.app.get('/set?key=a').expect(200)
      const line = setCookieFor(res, '__Host-tether.sid')!
      expect(line).to.include('; Secure')
      expect(line).to.include('; Path=/')
      expect(line).not.to.include('Domain')
      const read = await shop.app.get('/read').set('Cookie', cookieFrom(res, '__Host-tether.sid'))
      expect(read.body.values).to.deep.equal({ a: true })
    })

    describe('is not sent when nothing was created, changed, rotated or destroyed', () => {
      it('on a first visit that only reads (the new session stays lazy)', async () => {
        shop = await startShop(driver)
        const res = await shop.app.get('/read').expect(200)
        expect(setCookiesOf(res)).to.deep.equal([])
        expect(res.body).to.deep.equal({ isNew: true, values: {} })
        expect(shop.store.calls.write).to.equal(0)
        expect(shop.store.size).to.equal(0)
      })

      it('on a later read of an existing session', async () => {
        shop = await startShop(driver)
        const cookie = cookieFrom(await shop.app.get('/set?key=a'))
        const res = await shop.app.get('/read').set('Cookie', cookie).expect(200)
        expect(setCookiesOf(res)).to.deep.equal([])
        expect(res.body.values).to.deep.equal({ a: true })
      })

      it('on a change to an existing session (its cookie is still right)', async () => {
        shop = await startShop(driver)
        const cookie = cookieFrom(await shop.app.get('/set?key=a'))
        const res = await shop.app.get('/set?key=b').set('Cookie', cookie).expect(200)
        expect(setCookiesOf(res)).to.deep.equal([])
      })

      it('on a logout without a session', async () => {
        shop = await startShop(driver)
        const res = await shop.app.post('/logout').expect(204)
        expect(setCookiesOf(res)).to.deep.equal([])
      })
    })
  })
}
