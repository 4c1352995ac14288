// The user journey both example apps (express-shop, fastify-api) must support, driven over HTTP.
import { expect } from 'chai'
import supertest from 'supertest'
import { cookieFrom, setCookieFor } from './session-cookie.js'

export async function walkThroughShop(url: string): Promise<void> {
  const http = () => supertest(url)
  // No session yet: the cart is guarded.
  await http().get('/cart').expect(401)
  // An anonymous visitor fills a cart; that creates the session.
  const added = await http().post('/cart').send({ item: 'apple' }).expect(201)
  expect(added.body).to.deep.equal(['apple'])
  const anonymous = cookieFrom(added)
  await http().post('/cart').set('Cookie', anonymous).send({ item: 'pear' }).expect(201)
  await http().post('/cart').set('Cookie', anonymous).send({ item: '' }).expect(400)
  // Wrong password.
  await http().post('/login').set('Cookie', anonymous).send({ username: 'bob', password: 'nope' }).expect(401)
  // Login regenerates the id, keeps the cart, and redirects after storing the session.
  const login = await http()
    .post('/login')
    .set('Cookie', anonymous)
    .send({ username: 'bob', password: 'builder' })
    .expect(303)
  expect(login.headers.location).to.equal('/cart')
  const bob = cookieFrom(login)
  expect(bob).not.to.equal(anonymous)
  const cart = await http().get('/cart').set('Cookie', bob).expect(200)
  expect(cart.body).to.deep.equal(['apple', 'pear'])
  // The pre-login cookie is dead.
  await http().get('/cart').set('Cookie', anonymous).expect(401)
  const me = await http().get('/me').set('Cookie', bob).expect(200)
  expect(me.body.user).to.deep.include({ name: 'bob', role: 'customer' })
  // The admin route is behind a role guard.
  await http().get('/admin').expect(401)
  await http().get('/admin').set('Cookie', bob).expect(403)
  const alice = cookieFrom(
    await http().post('/login').send({ username: 'alice', password: 'wonderland' }).expect(303),
  )
  const admin = await http().get('/admin').set('Cookie', alice).expect(200)
  expect(admin.body.sessions.created).to.be.a('number')
  // Logout expires the cookie and the session.
  const logout = await http().post('/logout').set('Cookie', bob).expect(204)
  expect(setCookieFor(logout)).to.include('Max-Age=0')
  await http().get('/cart').set('Cookie', bob).expect(401)
  await http().get('/admin').set('Cookie', alice).expect(200)
}
