import { stickySession } from '@tether/express'
import express from 'express'
import supertest from 'supertest'
import { TEST_SECRET } from '../support/adapter-drivers.js'
import { cookieFrom } from '../support/session-cookie.js'

// req.session is served by an accessor on Express's shared request prototype (no own `session` per
// request); these check what a user relies on: it reaches every part of an app, and only the apps
// that use Tether.
describe('express: req.session across apps, routers and other middleware', () => {
  it('reaches routers and mounted sub-apps, and keeps their changes', async () => {
    const app = express()
    app.use(stickySession({ secret: TEST_SECRET }))
    const router = express.Router()
    router.get('/add', (req, res) => {
      req.session.set('count', ((req.session.get('count') as number | undefined) ?? 0) + 1)
      res.json({ count: req.session.get('count') })
    })
    const admin = express()
    admin.get('/count', (req, res) => {
      res.json({ count: req.session.get('count') ?? null })
    })
    app.use('/api', router)
    app.use('/admin', admin)

    const first = await supertest(app).get('/api/add').expect(200, { count: 1 })
    const cookie = cookieFrom(first)
    await supertest(app).get('/api/add').set('Cookie', cookie).expect(200, { count: 2 })
    await supertest(app).get('/admin/count').set('Cookie', cookie).expect(200, { count: 2 })
  })

  it('leaves apps without Tether alone, in the same process', async () => {
    const withTether = express()
    withTether.use(stickySession({ secret: TEST_SECRET }))
    withTether.get('/', (req, res) => {
      res.json({ has: req.session !== undefined })
    })
    const without = express()
    without.get('/', (req, res) => {
      res.json({ has: (req as { session?: unknown }).session !== undefined })
    })
    await supertest(withTether).get('/').expect(200, { has: true })
    await supertest(without).get('/').expect(200, { has: false })
  })

  it('lets other middleware assign req.session for its own request only', async () => {
    const app = express()
    app.use(stickySession({ secret: TEST_SECRET }))
    app.use((req, _res, next) => {
      if (req.query.replace !== undefined) (req as { session: unknown }).session = { replaced: true }
      next()
    })
    app.get('/', (req, res) => {
      const session = req.session as unknown as { replaced?: boolean; set?: unknown }
      res.json({ replaced: session.replaced === true, tether: typeof session.set === 'function' })
    })
    await supertest(app).get('/?replace').expect(200, { replaced: true, tether: false })
    await supertest(app).get('/').expect(200, { replaced: false, tether: true })
  })
})
