import type { AddressInfo } from 'node:net'
import type { Session } from '@tether/core'
import tether, { tether as namedTether, requireSession } from '@tether/fastify'
import { expect } from 'chai'
import Fastify, { type FastifyReply } from 'fastify'
import { storeIdOf } from '../../packages/core/src/crypto/session-id.js'
import { TEST_SECRET } from '../support/adapter-drivers.js'
import { request } from '../support/http-client.js'
import { SwitchableStore } from '../support/switchable-store.js'

// Typed through core: bench files in this type-check program load @fastify/session's types.
const sessionOf = (request: unknown) => (request as { session: Session }).session

describe('fastify: the plugin', () => {
  it('is a named fastify-plugin, the same as the default export, and decorates fastify.tether', async () => {
    expect(namedTether).to.equal(tether)
    const app = Fastify()
    await app.register(tether, { secret: TEST_SECRET })
    await app.ready()
    expect(app.hasPlugin('@tether/fastify')).to.equal(true)
    expect(app.tether.manager.cookie.name).to.equal('tether.sid')
    expect(app.tether.metrics).to.equal(app.tether.manager.metrics)
    await app.close()
  })

  it("keeps the app's own Set-Cookie headers and commits before a HEAD answer", async () => {
    const store = new SwitchableStore()
    const app = Fastify()
    await app.register(tether, { secret: TEST_SECRET, store })
    app.get('/both', async (request, reply) => {
      sessionOf(request).set('a', 1)
      reply.header('set-cookie', 'theme=dark; Path=/')
      return { ok: true }
    })
    store.writeDelay = 20
    const res = await app.inject({ method: 'GET', url: '/both' })
    const names = ([] as string[]).concat(res.headers['set-cookie'] ?? []).map((l) => l.split('=')[0])
    expect(names).to.have.members(['theme', 'tether.sid'])
    const head = await app.inject({ method: 'HEAD', url: '/both' })
    expect(([] as string[]).concat(head.headers['set-cookie'] ?? []).join()).to.include('tether.sid=')
    expect(store.size).to.equal(2)
    await app.close()
    await store.close()
  })

  it('adds its cookie after any Set-Cookie the app set, as Fastify would have sent it', async () => {
    const app = Fastify()
    await app.register(tether, { secret: TEST_SECRET })
    const cases: Record<string, (reply: FastifyReply) => void> = {
      // Fastify's own header replaces the raw response's when the head goes out.
      raw: (reply) => reply.raw.setHeader('Set-Cookie', ['a=1', 'b=2']),
      number: (reply) => reply.header('set-cookie', 5),
      empty: (reply) => reply.header('set-cookie', ''),
      array: (reply) => reply.header('Set-Cookie', ['c=3', 'd=4']),
    }
    for (const [path, setCookie] of Object.entries(cases)) {
      app.get<{ Querystring: { session?: string } }>(`/${path}`, async (req, reply) => {
        setCookie(reply)
        if (req.query.session === '1') sessionOf(req).set('a', 1)
        return { ok: true }
      })
    }
    await app.listen({ port: 0, host: '127.0.0.1' })
    const port = (app.server.address() as AddressInfo).port
    for (const path of Object.keys(cases)) {
      const without = await request(port, `/${path}`)
      const withSession = await request(port, `/${path}?session=1`)
      expect(withSession.status, path).to.equal(200)
      const plain = without.headers['set-cookie'] ?? []
      const lines = withSession.headers['set-cookie'] ?? []
      expect(lines.slice(0, -1), path).to.deep.equal(plain)
      expect(lines.at(-1), path).to.match(/^tether\.sid=/)
    }
    await app.close()
  })

  it("answers Fastify's 500 when Node refuses a header after a commit that waited", async () => {
    const store = new SwitchableStore()
    store.writeDelay = 10
    const app = Fastify()
    await app.register(tether, { secret: TEST_SECRET, store })
    app.get('/bad', async (req, reply) => {
      sessionOf(req).set('a', 1)
      reply.header('x-bad', 'a\r\nb')
      return { ok: true }
    })
    const rejections: unknown[] = []
    const onRejection = (reason: unknown) => rejections.push(reason)
    process.on('unhandledRejection', onRejection)
    try {
      await app.listen({ port: 0, host: '127.0.0.1' })
      const res = await request((app.server.address() as AddressInfo).port, '/bad', { timeout: 5_000 })
      expect(res.status).to.equal(500)
      expect(res.headers['x-bad']).to.equal(undefined)
    } finally {
      process.off('unhandledRejection', onRejection)
      await app.close()
      await store.close()
    }
    expect(rejections).to.deep.equal([])
  })

  it('a guard on a scope without the plugin is a server error, not an open door', async () => {
    const app = Fastify()
    app.get('/x', { preHandler: requireSession() }, async () => 'open')
    const res = await app.inject({ method: 'GET', url: '/x' })
    expect(res.statusCode).to.equal(500)
    await app.close()
  })

  it('does not commit hijacked replies (documented), and still releases the session', async () => {
    const store = new SwitchableStore()
    const app = Fastify()
    await app.register(tether, { secret: TEST_SECRET, store })
    app.get('/set', async (request) => {
      sessionOf(request).set('a', 1)
      return { ok: true }
    })
    app.get('/read', async (request) => ({ a: sessionOf(request).get('a') ?? null }))
    app.get('/raw', async (request, reply) => {
      sessionOf(request).set('b', 1)
      reply.hijack()
      reply.raw.end('raw')
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    const url = `http://127.0.0.1:${(app.server.address() as import('node:net').AddressInfo).port}`
    const first = await fetch(`${url}/set`)
    const cookie = first.headers.getSetCookie()[0]!.split(';')[0]!
    const raw = await fetch(`${url}/raw`, { headers: { cookie } })
    expect(await raw.text()).to.equal('raw')
    expect(raw.headers.getSetCookie()).to.deep.equal([])
    // Released: a change made in the store behind the app's back is seen by the next request.
    const id = storeIdOf(cookie.slice(cookie.indexOf('=') + 1).split('.')[0]!)
    const now = Date.now()
    await store.write(id, {
      set: { a: '5' },
      unset: [],
      createdAt: now,
      touchedAt: now,
      expiresAt: now + 60_000,
      established: false,
      create: false,
    })
    const read = await fetch(`${url}/read`, { headers: { cookie } })
    expect(await read.json()).to.deep.equal({ a: 5 })
    await app.close()
    await store.close()
  })
})
