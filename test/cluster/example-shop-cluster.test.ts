import http from 'node:http'
import type { ClusterMetricsSnapshot } from '@tether/cluster'
import { expect } from 'chai'
import supertest from 'supertest'
import { type RunningExample, startExample } from '../support/example-process.js'
import { waitFor } from '../support/load-loop.js'
import { cookieFrom } from '../support/session-cookie.js'
import { walkThroughShop } from '../support/shop-scenario.js'

// The demo (`npm run demo`): the shop on 4 workers, each with its own MemoryStore. Every step of
// the journey only works if each request reaches the worker that holds its session.
describe('examples/express-shop on a Tether cluster (the demo)', function () {
  this.timeout(60_000)
  let shop: RunningExample
  before(async () => {
    shop = await startExample('express-shop', {}, 'cluster.ts')
  })
  after(async () => shop?.stop())

  it('prints its URL', () => {
    expect(shop.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(shop.output()).to.include('4-worker cluster')
  })

  it('supports login, cart, admin guard and logout across workers', async () => {
    for (let i = 0; i < 4; i++) await walkThroughShop(shop.url)
  })

  it('spreads new sessions over the 4 workers and keeps each on its own', async () => {
    const workers = new Set<string>()
    for (let i = 0; i < 12; i++) {
      const created = await supertest(shop.url)
        .post('/cart')
        .send({ item: `item-${i}` })
        .expect(201)
      const worker = String(created.headers['x-tether-worker'])
      workers.add(worker)
      const cookie = cookieFrom(created)
      expect(cookie).to.include(`.${worker}.`)
      for (let j = 0; j < 3; j++) {
        const cart = await supertest(shop.url).get('/cart').set('Cookie', cookie).expect(200)
        expect(cart.headers['x-tether-worker']).to.equal(worker)
        expect(cart.body).to.deep.equal([`item-${i}`])
      }
    }
    expect([...workers].sort()).to.deep.equal(['w0', 'w1', 'w2', 'w3'])
  })

  it('keeps the cart of a worker killed with kill -9 (replication), then gives it back to it', async () => {
    const created = await supertest(shop.url).post('/cart').send({ item: 'apple' }).expect(201)
    const cookie = cookieFrom(created)
    const owner = String(created.headers['x-tether-worker'])
    await supertest(shop.url).post('/cart').set('Cookie', cookie).send({ item: 'pear' }).expect(201)
    process.kill(Number(created.headers['x-tether-worker-pid']), 'SIGKILL')
    const during = await supertest(shop.url).get('/cart').set('Cookie', cookie).expect(200)
    expect(during.body).to.deep.equal(['apple', 'pear'])
    expect(during.headers['x-tether-worker']).to.not.equal(owner)
    await supertest(shop.url).post('/cart').set('Cookie', cookie).send({ item: 'plum' }).expect(201)
    // The replacement takes the slot once it has the sessions back: the cart returns to its worker.
    await waitFor(async () => {
      const cart = await supertest(shop.url).get('/cart').set('Cookie', cookie)
      return cart.headers['x-tether-worker'] === owner
    }, 15_000)
    const after = await supertest(shop.url).get('/cart').set('Cookie', cookie).expect(200)
    expect(after.body).to.deep.equal(['apple', 'pear', 'plum'])
  })

  it('streams the cluster to the dashboard and serves it to Prometheus', async () => {
    // One Server-Sent Event from the stream: the primary's view of the 4 workers.
    const sample = await new Promise<{ at: number; metrics: ClusterMetricsSnapshot }>((resolve, reject) => {
      const req = http.get(`${shop.url}/dashboard/events`, (res) => {
        expect(res.headers['content-type']).to.equal('text/event-stream')
        let text = ''
        res.on('data', (chunk: Buffer) => {
          text += chunk.toString()
          const event = /^data: (.+)$/m.exec(text)
          if (event !== null) {
            req.destroy()
            resolve(JSON.parse(event[1]!))
          }
        })
      })
      req.setTimeout(10_000, () => req.destroy(new Error('no event within 10 s')))
      req.on('error', reject)
    })
    expect(sample.metrics.slots.map((s) => s.route)).to.deep.equal(['w0', 'w1', 'w2', 'w3'])
    expect(sample.metrics.replication.mode).to.equal('sync')
    const page = await supertest(shop.url).get('/metrics').expect(200)
    expect(page.text).to.match(/^tether_cluster_worker_up\{worker="w3"\} 1$/m)
    expect(page.text).to.match(/^tether_cluster_replication_sent_total \d+$/m)
  })

  it('kills only a worker of the cluster, and only when asked with JSON', async () => {
    await supertest(shop.url).post('/dashboard/kill').type('form').send({ worker: 'w0' }).expect(404)
    const unknown = await supertest(shop.url).post('/dashboard/kill').send({ worker: 'w9' }).expect(409)
    expect(unknown.body).to.deep.equal({ error: 'no such worker running' })
  })

  it('logs a customer out on every device, whichever workers hold the sessions', async () => {
    const devices: Array<{ cookie: string; worker: string }> = []
    for (let i = 0; i < 4; i++) {
      const login = await supertest(shop.url)
        .post('/login')
        .send({ username: 'bob', password: 'builder' })
        .expect(303)
      devices.push({ cookie: cookieFrom(login), worker: String(login.headers['x-tether-worker']) })
    }
    // First visits rotate: the four devices' sessions are on more than one worker.
    expect(new Set(devices.map((d) => d.worker)).size).to.be.greaterThan(1)
    const alice = cookieFrom(
      await supertest(shop.url)
        .post('/login')
        .send({ username: 'alice', password: 'wonderland' })
        .expect(303),
    )
    const ended = await supertest(shop.url)
      .post('/logout-everywhere')
      .set('Cookie', devices[0]!.cookie)
      .expect(200)
    expect(ended.body).to.deep.equal({ ended: 4 })
    for (const device of devices) {
      const me = await supertest(shop.url).get('/me').set('Cookie', device.cookie).expect(200)
      expect(me.body).to.deep.equal({ user: null })
    }
    expect((await supertest(shop.url).get('/me').set('Cookie', alice).expect(200)).body.user.name).to.equal(
      'alice',
    )
  })
})
