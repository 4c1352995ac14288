import {
  type ExpressSessionStoreLike,
  fromExpressSessionStore,
  MemoryStore,
  SessionManager,
  toExpressSessionStore,
} from '@tether/core'
import { expect } from 'chai'
import express from 'express'
import session from 'express-session'
import request from 'supertest'
import { storeIdOf } from '../../packages/core/src/crypto/session-id.js'
import { describeExpressSessionBehaviour } from '../suites/express-session-behaviour.js'
import { describePrototypeKeys } from '../suites/prototype-keys.js'
import { PROTOTYPE_KEYS } from '../suites/store-contract.js'
import { expressSessionCounterApp } from '../support/express-session-app.js'

const SECRET = 'e'.repeat(32)

describe('express-session interop', () => {
  describe('a Tether store as express-session’s store', () => {
    it('keeps sessions across requests, hashing express-session ids', async () => {
      const tetherStore = new MemoryStore()
      const app = expressSessionCounterApp(SECRET, tetherStore, { maxAge: 60_000 })
      const agent = request.agent(app)
      const first = await agent.get('/count').expect(200, { n: 1 })
      for (let i = 2; i <= 3; i++) await agent.get('/count').expect(200, { n: i })
      expect(await tetherStore.count()).to.equal(1)
      // express-session's own id (s:<sid>.<signature>) reaches the Tether store only hashed.
      const cookie = decodeURIComponent(String(first.headers['set-cookie']).split(';')[0]!.split('=')[1]!)
      const sid = cookie.slice(2, cookie.lastIndexOf('.'))
      expect(await tetherStore.ids()).to.deep.equal([storeIdOf(sid)])
      await agent.post('/logout').expect(200)
      expect(await tetherStore.count()).to.equal(0)
      await tetherStore.close()
    })
  })

  describe('an express-session store backing Tether', () => {
    /** Minimal Express wiring of the core, so this test does not depend on @tether/express. */
    function appWith(manager: SessionManager) {
      const app = express()
      app.get('/count', async (req, res) => {
        const ctx = await manager.open(req.headers.cookie)
        const n = ((ctx.session.get('n') as number | undefined) ?? 0) + 1
        ctx.session.set('n', n)
        const setCookie = await ctx.commit(false)
        ctx.release()
        if (setCookie) res.setHeader('Set-Cookie', setCookie)
        res.json({ n })
      })
      app.post('/logout', async (req, res) => {
        const ctx = await manager.open(req.headers.cookie)
        await ctx.session.destroy()
        const setCookie = await ctx.commit(false)
        ctx.release()
        if (setCookie) res.setHeader('Set-Cookie', setCookie)
        res.end()
      })
      return app
    }

    it('works with express-session’s callback-style MemoryStore', async () => {
      const backing = new session.MemoryStore()
      const manager = new SessionManager({ secret: SECRET, store: fromExpressSessionStore(backing) })
      expect(manager.encrypted).to.equal(true)
      const agent = request.agent(appWith(manager))
      for (let i = 1; i <= 3; i++) await agent.get('/count').expect(200, { n: i })
      const all = await new Promise<Record<string, unknown>>((resolve, reject) =>
        backing.all((error, sessions) =>
          error ? reject(error) : resolve(sessions as Record<string, unknown>),
        ),
      )
      expect(Object.keys(all)).to.have.length(1)
      // Sealed at rest, and the express-session cookie carries the expiry stores use for TTLs.
      const stored = Object.values(all)[0] as {
        cookie: { expires: string }
        tether: { fields: Record<string, string> }
      }
      expect(stored.tether.fields.n).to.not.equal('3')
      expect(new Date(stored.cookie.expires).getTime()).to.be.greaterThan(Date.now())
      await agent.post('/logout').expect(200)
      await agent.get('/count').expect(200, { n: 1 })
    })

    it('works with a promise-style store', async () => {
      class PromiseStore implements ExpressSessionStoreLike {
        readonly data = new Map<string, string>()
        async get(sid: string) {
          const json = this.data.get(sid)
          return json === undefined ? null : JSON.parse(json)
        }
        async set(sid: string, value: unknown) {
          this.data.set(sid, JSON.stringify(value))
        }
        async destroy(sid: string) {
          this.data.delete(sid)
        }
      }
      const backing = new PromiseStore()
      const manager = new SessionManager({ secret: SECRET, store: fromExpressSessionStore(backing) })
      const agent = request.agent(appWith(manager))
      for (let i = 1; i <= 3; i++) await agent.get('/count').expect(200, { n: i })
      expect(backing.data.size).to.equal(1)
    })

    it('does not recreate a destroyed session from a late write', async () => {
      const backing = new session.MemoryStore()
      const store = fromExpressSessionStore(backing)
      const now = Date.now()
      const write = {
        set: { a: '1' },
        unset: [],
        createdAt: now,
        touchedAt: now,
        expiresAt: now + 60_000,
        established: false,
      }
      expect(await store.write('id1', { ...write, create: true })).to.equal(true)
      await store.destroy('id1')
      expect(await store.write('id1', { ...write, create: false })).to.equal(false)
      expect(await store.get('id1')).to.equal(undefined)
    })

    it('reads a stored text that is not JSON as no session, not as a store failure', async () => {
      const garbage: ExpressSessionStoreLike = {
        get: (_sid, callback) => callback(null, '{"tether": trunc'),
        set: (_sid, _session, callback) => callback(),
        destroy: (_sid, callback) => callback(),
      }
      const got = await fromExpressSessionStore(garbage).get('id1')
      expect(got === undefined || typeof got === 'object').to.equal(true)
    })

    it('rejects something that is not a store, naming the missing method', () => {
      expect(() => fromExpressSessionStore({} as never)).to.throw(TypeError, /get\(\)/)
      expect(() => toExpressSessionStore(new MemoryStore(), {} as never)).to.throw(
        TypeError,
        /express-session module/,
      )
    })
  })
})

describeExpressSessionBehaviour('MemoryStore', async () => new MemoryStore())

describePrototypeKeys('fromExpressSessionStore(express-session MemoryStore)', async () =>
  fromExpressSessionStore(new session.MemoryStore()),
)

describe('toExpressSessionStore with keys named like Object.prototype members', () => {
  type Store = {
    set(sid: string, s: object, cb: (e?: unknown) => void): void
    get(sid: string, cb: (e: unknown, s?: Record<string, unknown> | null) => void): void
  }
  const call = <T>(fn: (cb: (e?: unknown, v?: T) => void) => void) =>
    new Promise<T | undefined>((resolve, reject) => fn((e, v) => (e ? reject(e) : resolve(v))))
  const cookie = () => ({ expires: new Date(Date.now() + 60_000).toISOString(), originalMaxAge: 60_000 })

  it('saves, reads back and removes them as own keys, without changing any prototype', async () => {
    const store = toExpressSessionStore(new MemoryStore(), session) as Store
    const saved: Record<string, unknown> = { cookie: cookie() }
    for (const key of PROTOTYPE_KEYS) {
      Object.defineProperty(saved, key, { value: { role: 'admin' }, enumerable: true, configurable: true })
    }
    await call<void>((cb) => store.set('sid-1', saved, cb))
    const read = (await call<Record<string, unknown> | null>((cb) => store.get('sid-1', cb)))!
    expect(Object.getPrototypeOf(read)).to.equal(Object.prototype)
    expect(Object.keys(read).sort()).to.deep.equal(['cookie', ...PROTOTYPE_KEYS].sort())
    for (const key of PROTOTYPE_KEYS) {
      expect(Object.getOwnPropertyDescriptor(read, key)?.value).to.deep.equal({ role: 'admin' })
    }
    // Saving without them removes them (a plain object's `in` would find them all inherited).
    await call<void>((cb) => store.set('sid-1', { cookie: cookie() }, cb))
    const after = (await call<Record<string, unknown> | null>((cb) => store.get('sid-1', cb)))!
    expect(Object.keys(after)).to.deep.equal(['cookie'])
    expect(({} as Record<string, unknown>).role).to.equal(undefined)
  })

  it('drops values JSON cannot hold (functions, undefined), as express-session’s stores do', async () => {
    const store = toExpressSessionStore(new MemoryStore(), session) as Store
    await call<void>((cb) => store.set('sid-2', { cookie: cookie(), n: 1, helper: () => 1 }, cb))
    const read = (await call<Record<string, unknown> | null>((cb) => store.get('sid-2', cb)))!
    expect(Object.keys(read).sort()).to.deep.equal(['cookie', 'n'])
  })
})
