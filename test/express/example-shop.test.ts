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

  it('answers a browser with pages and redirects, never JSON, and escapes what visitors type', async () => {
    const browser = () => supertest(shop.url)
    const html = 'text/html,application/xhtml+xml,*/*;q=0.8'
    const added = await browser()
      .post('/cart')
      .set('Accept', html)
      .type('form')
      .send({ item: '<script>alert(1)</script>' })
      .expect(303)
    expect(added.headers.location).to.equal('/?msg=added')
    const cookie = String(added.headers['set-cookie']?.[0]).split(';')[0]!
    const home = await browser().get('/?msg=added').set('Accept', html).set('Cookie', cookie).expect(200)
    expect(home.headers['content-type']).to.include('text/html')
    expect(home.text).to.include('Added to your cart.')
    expect(home.text).to.include('&lt;script&gt;alert(1)&lt;/script&gt;')
    expect(home.text).to.not.include('<script>alert')
    expect(home.text).to.match(
      /answered by <b data-testid="worker-name">single process<\/b> · pid <b data-testid="worker-pid">\d+<\/b>/,
    )
    // A message is picked by a code; anything else in ?msg= shows nothing.
    const forged = await browser().get('/?msg=<i>hi</i>').set('Accept', html).expect(200)
    expect(forged.text).to.not.include('hi</i>')
    expect(forged.text).to.not.include('data-testid="message"')
    const wrong = await browser()
      .post('/login')
      .set('Accept', html)
      .type('form')
      .send({ username: 'bob', password: 'nope' })
      .expect(303)
    expect(wrong.headers.location).to.equal('/?msg=wrong-password')
    const login = await browser()
      .post('/login')
      .set('Accept', html)
      .set('Cookie', cookie)
      .type('form')
      .send({ username: 'bob', password: 'builder' })
      .expect(303)
    expect(login.headers.location).to.equal('/?msg=logged-in')
    const bob = String(login.headers['set-cookie']?.[0]).split(';')[0]!
    const admin = await browser().get('/admin').set('Accept', html).set('Cookie', bob).expect(303)
    expect(admin.headers.location).to.equal('/?msg=not-admin')
    const logout = await browser().post('/logout').set('Accept', html).set('Cookie', bob).expect(303)
    expect(logout.headers.location).to.equal('/?msg=logged-out')
    const after = await browser().get('/').set('Accept', html).set('Cookie', bob).expect(200)
    expect(after.text).to.include('Not logged in.')
  })

  it('has an icon and a stylesheet of its own', async () => {
    const icon = await supertest(shop.url).get('/favicon.ico').expect(200)
    expect(icon.headers['content-type']).to.include('image/svg+xml')
    const css = await supertest(shop.url).get('/style.css').expect(200)
    expect(css.headers['content-type']).to.include('text/css')
  })
})
