// "Log out everywhere" through each adapter's own call (express `sessions.destroyAll`, fastify
// `fastify.tether.destroyAll`), over real HTTP, with a slow request of a destroyed session racing it.
import { expect } from 'chai'
import { DRIVERS, type RunningApp, TEST_SECRET } from '../support/adapter-drivers.js'
import { cookieFrom } from '../support/session-cookie.js'

for (const driver of DRIVERS) {
  describe(`${driver.name}: log out everywhere`, () => {
    let app: RunningApp
    beforeEach(async () => {
      app = await driver.start({ secret: TEST_SECRET, owner: (s) => s.get('user') as string | undefined }, [
        {
          method: 'GET',
          path: '/login',
          async handle({ session, query }) {
            await session.regenerate()
            session.set('user', query.user)
            return { kind: 'json', body: { user: query.user } }
          },
        },
        {
          method: 'GET',
          path: '/me',
          handle: ({ session }) => ({ kind: 'json', body: { user: session.get('user') ?? null } }),
        },
        {
          method: 'GET',
          path: '/slow-write',
          async handle({ session, query }) {
            await new Promise((resolve) => setTimeout(resolve, Number(query.ms)))
            session.set('late', true)
            return { kind: 'json', body: { user: session.get('user') ?? null } }
          },
        },
        {
          method: 'POST',
          path: '/log-out-everywhere',
          async handle({ session, destroyAll }) {
            const user = session.get('user') as string
            return { kind: 'json', body: { ended: await destroyAll(user) } }
          },
        },
      ])
    })
    afterEach(() => app?.close())

    it("ends every device's session of the user, a slow request of one included", async () => {
      const phone = cookieFrom(await app.get('/login?user=alice').expect(200))
      const laptop = cookieFrom(await app.get('/login?user=alice').expect(200))
      const bob = cookieFrom(await app.get('/login?user=bob').expect(200))
      // The laptop's slow request started before the password change and writes after it.
      const slow = app
        .get('/slow-write?ms=300')
        .set('Cookie', laptop)
        .then((res) => res)
      await new Promise((resolve) => setTimeout(resolve, 50))
      const ended = await app.post('/log-out-everywhere').set('Cookie', phone).expect(200)
      expect(ended.body).to.deep.equal({ ended: 2 })
      expect((await slow).status).to.equal(200)
      for (const cookie of [phone, laptop]) {
        const me = await app.get('/me').set('Cookie', cookie).expect(200)
        expect(me.body).to.deep.equal({ user: null })
      }
      expect((await app.get('/me').set('Cookie', bob).expect(200)).body).to.deep.equal({ user: 'bob' })
      expect(app.metrics.get('destroyed')).to.equal(2)
    })
  })
}
