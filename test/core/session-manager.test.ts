import {
  isTetherError,
  Keyring,
  MemoryStore,
  Metrics,
  SessionManager,
  type TetherOptions,
} from '@tether/core'
import { expect } from 'chai'
import sinon from 'sinon'
import { InstrumentedStore } from '../support/instrumented-store.js'

const SECRET = 's'.repeat(32)

/** One request through the manager: open with a cookie, run the handler, commit, release. */
async function request(
  manager: SessionManager,
  cookie: string | undefined,
  handler: (session: import('@tether/core').Session) => unknown = () => undefined,
): Promise<{ setCookie: string | undefined; cookie: string | undefined }> {
  const ctx = await manager.open(cookie)
  try {
    await handler(ctx.session)
    const setCookie = await ctx.commit(false)
    return { setCookie, cookie: setCookie === undefined ? cookie : setCookie.split(';')[0] }
  } finally {
    ctx.release()
  }
}

function make(options: Partial<TetherOptions> = {}) {
  const store = (options.store as InstrumentedStore | undefined) ?? new InstrumentedStore()
  const manager = new SessionManager({ secret: SECRET, route: 'w0', ...options, store })
  return { store, manager }
}

describe('SessionManager', () => {
  let clock: sinon.SinonFakeTimers | undefined
  afterEach(() => {
    clock?.restore()
    clock = undefined
  })

  describe('a new session', () => {
    it('is lazy: no store call and no cookie until something is set', async () => {
      const { store, manager } = make()
      const { setCookie } = await request(manager, undefined, (s) => {
        expect(s.isNew).to.equal(true)
        expect(s.get('x')).to.equal(undefined)
      })
      expect(setCookie).to.equal(undefined)
      expect(store.totalCalls).to.equal(0)
    })

    it('is stored and its cookie sent once something is set', async () => {
      const { store, manager } = make()
      const { setCookie } = await request(manager, undefined, (s) => s.set('n', 1))
      expect(setCookie).to.match(
        /^tether\.sid=[A-Za-z0-9_-]{43}\.w0\.[A-Za-z0-9_-]{22}; Path=\/; HttpOnly; SameSite=Lax$/,
      )
      expect(store.calls.write).to.equal(1)
      expect(store.writes[0]!.change.create).to.equal(true)
      expect(await manager.metrics.snapshot()).to.include({ created: 1 })
    })

    it('never hands the raw token to the store', async () => {
      const { store, manager } = make()
      const { cookie } = await request(manager, undefined, (s) => s.set('n', 1))
      const token = cookie!.split('=')[1]!.split('.')[0]!
      const seen = JSON.stringify(store.writes)
      expect(seen).to.not.contain(token)
      expect(store.writes[0]!.id).to.have.length(43)
    })
  })

  describe('an existing session', () => {
    it('reads back what was set', async () => {
      const { manager } = make()
      const first = await request(manager, undefined, (s) => s.set('user', { id: 42 }))
      await request(manager, first.cookie, (s) => {
        expect(s.isNew).to.equal(false)
        expect(s.get('user')).to.deep.equal({ id: 42 })
        expect(s.keys()).to.deep.equal(['user'])
      })
    })

    it('is not rewritten and sends no cookie when unchanged', async () => {
      const { store, manager } = make()
      const { cookie } = await request(manager, undefined, (s) => s.set('n', 1))
      const writes = store.calls.write
      const { setCookie } = await request(manager, cookie, (s) => s.get('n'))
      expect(setCookie).to.equal(undefined)
      expect(store.calls.write).to.equal(writes)
      expect(store.calls.touch).to.equal(0)
    })

    it('writes only the keys that changed', async () => {
      const { store, manager } = make()
      const { cookie } = await request(manager, undefined, (s) => {
        s.set('a', 1)
        s.set('b', 2)
      })
      await request(manager, cookie, (s) => {
        s.set('b', 3)
        s.delete('a')
      })
      const last = store.writes.at(-1)!.change
      expect(last.set).to.deep.equal({ b: '3' })
      expect(last.unset).to.deep.equal(['a'])
      expect(last.create).to.equal(false)
    })

    it('rejects values that cannot be stored as JSON when they are set', async () => {
      const { manager } = make()
      const ctx = await manager.open(undefined)
      const circular: Record<string, unknown> = {}
      circular.self = circular
      expect(() => ctx.session.set('x', circular)).to.throw(/cannot be stored as JSON/)
      expect(() => ctx.session.set('f', (() => 1) as never)).to.throw(/cannot be stored as JSON/)
      ctx.release()
    })
  })

  describe('cookies from the network', () => {
    it('treats forged, truncated or tampered cookies as no cookie, without a store call', async () => {
      const { store, manager } = make()
      const { cookie } = await request(manager, undefined, (s) => s.set('n', 1))
      const value = cookie!.split('=')[1]!
      const calls = store.totalCalls
      const bad = [
        `tether.sid=${value.slice(0, -2)}`,
        `tether.sid=${value.slice(0, -1)}${value.endsWith('A') ? 'B' : 'A'}`,
        `tether.sid=${value.replace('.w0.', '.w1.')}`,
        `tether.sid=${'x'.repeat(43)}.w0.${'y'.repeat(22)}`,
        `tether.sid=${'%'.repeat(10_000)}`,
      ]
      for (const header of bad) {
        await request(manager, header, (s) => {
          expect(s.isNew).to.equal(true)
          expect(s.get('n')).to.equal(undefined)
        })
      }
      expect(store.totalCalls).to.equal(calls)
      const snapshot = await manager.metrics.snapshot()
      expect(snapshot.rejectedFormat).to.equal(2)
      expect(snapshot.rejectedMac).to.equal(3)
    })

    it('never adopts a token it did not find: a verified cookie for a gone session gets a new token', async () => {
      const { manager } = make()
      const { cookie } = await request(manager, undefined, (s) => s.set('n', 1))
      await request(manager, cookie, (s) => s.destroy())
      const next = await request(manager, cookie, (s) => s.set('n', 2))
      expect(next.cookie).to.not.equal(cookie)
      expect(next.setCookie).to.match(/^tether\.sid=/)
    })

    it('finds the real cookie after a planted one of the same name', async () => {
      const { manager } = make()
      const { cookie } = await request(manager, undefined, (s) => s.set('n', 1))
      await request(manager, `tether.sid=planted; ${cookie}`, (s) => expect(s.get('n')).to.equal(1))
    })
  })

  describe('secret rotation', () => {
    it('keeps cookies of an older secret valid and re-issues them under the newest', async () => {
      const store = new InstrumentedStore()
      const before = new SessionManager({ secret: 'o'.repeat(32), store, route: 'w0' })
      const { cookie } = await request(before, undefined, (s) => s.set('n', 1))
      const after = new SessionManager({ secret: ['n'.repeat(32), 'o'.repeat(32)], store, route: 'w0' })
      const { setCookie } = await request(after, cookie, (s) => expect(s.get('n')).to.equal(1))
      expect(setCookie).to.match(/^tether\.sid=/)
      expect(setCookie!.split(';')[0]).to.not.equal(cookie)
      const { setCookie: again } = await request(after, setCookie!.split(';')[0], (s) =>
        expect(s.get('n')).to.equal(1),
      )
      expect(again).to.equal(undefined)
      expect(after.metrics.get('reissued')).to.equal(1)
    })
  })

  describe('timeouts', () => {
    it('ends a session idle for longer than idleTimeout, deleting its record', async () => {
      clock = sinon.useFakeTimers({ now: 1_700_000_000_000, toFake: ['Date'] })
      const { store, manager } = make({ idleTimeout: 60_000 })
      const { cookie } = await request(manager, undefined, (s) => s.set('n', 1))
      clock.tick(59_000)
      await request(manager, cookie, (s) => expect(s.get('n')).to.equal(1))
      clock.tick(60_001)
      await request(manager, cookie, (s) => expect(s.isNew).to.equal(true))
      expect(manager.metrics.get('expired') + manager.metrics.get('loadMisses')).to.be.greaterThan(0)
      expect(await store.inner.count()).to.equal(0)
    })

    it('slides the idle window on activity (touch) and never passes the absolute timeout', async () => {
      clock = sinon.useFakeTimers({ now: 1_700_000_000_000, toFake: ['Date'] })
      const { manager } = make({ idleTimeout: 60_000, absoluteTimeout: 200_000, touchAfter: 0.5 })
      const { cookie } = await request(manager, undefined, (s) => s.set('n', 1))
      for (let elapsed = 0; elapsed < 160_000; elapsed += 40_000) {
        clock.tick(40_000)
        await request(manager, cookie, (s) => expect(s.get('n'), `at ${elapsed + 40_000} ms`).to.equal(1))
      }
      clock.tick(50_000) // 210 s after creation, but only 50 s after the last activity
      await request(manager, cookie, (s) => expect(s.isNew).to.equal(true))
    })

    it('revives nothing a store still returns after the core considers it expired', async () => {
      clock = sinon.useFakeTimers({ now: 1_700_000_000_000, toFake: ['Date'] })
      const store = new InstrumentedStore()
      const manager = new SessionManager({ secret: SECRET, store, idleTimeout: 60_000 })
      const { cookie } = await request(manager, undefined, (s) => s.set('n', 1))
      // A store that keeps records longer than asked (a lagging replica, a longer TTL).
      const id = store.writes[0]!.id
      await store.inner.touch(id, Date.now() - 61_000, Date.now() + 3_600_000)
      await request(manager, cookie, (s) => expect(s.isNew).to.equal(true))
      expect(manager.metrics.get('expired')).to.equal(1)
      expect(await store.inner.get(id)).to.equal(undefined)
    })

    it('touches an unchanged session only once touchAfter of the idle window has passed', async () => {
      clock = sinon.useFakeTimers({ now: 1_700_000_000_000, toFake: ['Date'] })
      const { store, manager } = make({ idleTimeout: 100_000, touchAfter: 0.1 })
      const { cookie } = await request(manager, undefined, (s) => s.set('n', 1))
      clock.tick(9_000)
      await request(manager, cookie)
      expect(store.calls.touch).to.equal(0)
      clock.tick(1_000)
      await request(manager, cookie)
      expect(store.calls.touch).to.equal(1)
      await request(manager, cookie)
      expect(store.calls.touch).to.equal(1)
      expect(manager.metrics.get('touched')).to.equal(1)
    })

    it('touch() forces a touch on commit', async () => {
      const { store, manager } = make()
      const { cookie } = await request(manager, undefined, (s) => s.set('n', 1))
      await request(manager, cookie, (s) => s.touch())
      expect(store.calls.touch).to.equal(1)
    })
  })

  describe('regenerate()', () => {
    it('issues a new token with the same route, keeps the data and kills the old cookie', async () => {
      const { store, manager } = make()
      const { cookie: before } = await request(manager, undefined, (s) => s.set('cart', ['apple']))
      const { setCookie, cookie: after } = await request(manager, before, async (s) => {
        await s.regenerate()
        s.set('user', 42)
      })
      expect(setCookie).to.match(/\.w0\./)
      expect(after).to.not.equal(before)
      await request(manager, after, (s) => {
        expect(s.get('cart')).to.deep.equal(['apple'])
        expect(s.get('user')).to.equal(42)
      })
      await request(manager, before, (s) => expect(s.isNew).to.equal(true))
      expect(await store.inner.count()).to.equal(1)
      expect(manager.metrics.get('regenerated')).to.equal(1)
    })

    it('keeps nothing with { keep: false } and only the listed keys with a list', async () => {
      const { manager } = make()
      const { cookie } = await request(manager, undefined, (s) => {
        s.set('a', 1)
        s.set('b', 2)
      })
      const listed = await request(manager, cookie, (s) => s.regenerate({ keep: ['b'] }))
      await request(manager, listed.cookie, (s) => expect(s.keys()).to.deep.equal(['b']))
      const none = await request(manager, listed.cookie, async (s) => {
        await s.regenerate({ keep: false })
        s.set('c', 3)
      })
      await request(manager, none.cookie, (s) => expect(s.keys()).to.deep.equal(['c']))
    })

    it('marks the session established, so a bounded store does not evict it', async () => {
      const { store, manager } = make()
      const { cookie } = await request(manager, undefined, (s) => s.set('a', 1))
      await request(manager, cookie, (s) => s.regenerate())
      expect(store.writes.at(-1)!.change.established).to.equal(true)
    })
  })

  describe('destroy()', () => {
    it('removes the record, clears the cookie, and the old cookie has no session', async () => {
      const { store, manager } = make()
      const { cookie } = await request(manager, undefined, (s) => s.set('n', 1))
      const { setCookie } = await request(manager, cookie, (s) => s.destroy())
      expect(setCookie).to.match(/^tether\.sid=; Path=\/; Max-Age=0/)
      expect(await store.inner.count()).to.equal(0)
      await request(manager, cookie, (s) => expect(s.isNew).to.equal(true))
      expect(manager.metrics.get('destroyed')).to.equal(1)
    })

    it('lets the same request start a fresh session afterwards', async () => {
      const { manager } = make()
      const { cookie } = await request(manager, undefined, (s) => s.set('n', 1))
      const next = await request(manager, cookie, async (s) => {
        await s.destroy()
        s.set('flash', 'bye')
      })
      expect(next.cookie).to.not.equal(cookie)
      await request(manager, next.cookie, (s) => expect(s.keys()).to.deep.equal(['flash']))
    })

    it('a slow request that commits after destroy() does not revive the session', async () => {
      const { store, manager } = make()
      const { cookie } = await request(manager, undefined, (s) => s.set('n', 1))
      const slow = await manager.open(cookie)
      await request(manager, cookie, (s) => s.destroy())
      slow.session.set('n', 99)
      expect(await slow.commit(false)).to.equal(undefined)
      slow.release()
      expect(await store.inner.count()).to.equal(0)
      await request(manager, cookie, (s) => expect(s.isNew).to.equal(true))
    })

    it('a slow request holding the old id does not clear the cookie a login just issued', async () => {
      const { manager } = make()
      const { cookie } = await request(manager, undefined, (s) => s.set('n', 1))
      const slow = await manager.open(cookie)
      const login = await request(manager, cookie, (s) => s.regenerate())
      slow.session.set('late', true)
      expect(await slow.commit(false)).to.equal(undefined)
      slow.release()
      await request(manager, login.cookie, (s) => {
        expect(s.get('n')).to.equal(1)
        expect(s.has('late')).to.equal(false)
      })
    })
  })

  describe('concurrent requests of one session (one live session per worker)', () => {
    it('keeps all of 50 parallel writes of different keys', async () => {
      const { store, manager } = make()
      store.writeDelay = 5
      const { cookie } = await request(manager, undefined, (s) => s.set('start', true))
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          request(manager, cookie, async (s) => {
            await new Promise((resolve) => setTimeout(resolve, i % 7))
            s.set(`k${i}`, i)
          }),
        ),
      )
      await request(manager, cookie, (s) => expect(s.keys()).to.have.length(51))
      // Commits coalesce: far fewer writes than requests.
      expect(store.calls.write).to.be.below(50)
    })

    it('ends 50 parallel increments of one counter at 50', async () => {
      const { store, manager } = make()
      store.writeDelay = 3
      const { cookie } = await request(manager, undefined, (s) => s.set('count', 0))
      await Promise.all(
        Array.from({ length: 50 }, () =>
          request(manager, cookie, (s) => s.set('count', (s.get('count') as number) + 1)),
        ),
      )
      // A fresh manager on the same store proves the value was persisted, not only held in memory.
      const other = new SessionManager({ secret: SECRET, store })
      await request(other, cookie, (s) => expect(s.get('count')).to.equal(50))
    })

    it('loads a session once for concurrent requests', async () => {
      const { store, manager } = make()
      const { cookie } = await request(manager, undefined, (s) => s.set('n', 1))
      const gets = store.calls.get
      await Promise.all(Array.from({ length: 20 }, () => request(manager, cookie)))
      expect(store.calls.get - gets).to.be.at.most(2)
    })
  })

  describe('store failures', () => {
    it('rejects with ERR_TETHER_STORE_UNAVAILABLE and keeps the change for the next commit', async () => {
      const { store, manager } = make()
      const { cookie } = await request(manager, undefined, (s) => s.set('n', 1))
      const ctx = await manager.open(cookie)
      ctx.session.set('n', 2)
      store.failing = true
      const error = await ctx.commit(false).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(isTetherError(error, 'ERR_TETHER_STORE_UNAVAILABLE')).to.equal(true)
      store.failing = false
      await ctx.commit(false)
      ctx.release()
      await request(manager, cookie, (s) => expect(s.get('n')).to.equal(2))
      expect(manager.metrics.get('storeErrors')).to.equal(1)
    })

    it('rejects open() when the store cannot be read', async () => {
      const { store, manager } = make()
      const { cookie } = await request(manager, undefined, (s) => s.set('n', 1))
      store.failing = true
      const error = await manager.open(cookie).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(isTetherError(error, 'ERR_TETHER_STORE_UNAVAILABLE')).to.equal(true)
    })
  })

  describe('encryption at rest', () => {
    it('is on by default for stores outside the process and seals every field', async () => {
      const store = new InstrumentedStore({ inProcess: false })
      const manager = new SessionManager({ secret: SECRET, store })
      expect(manager.encrypted).to.equal(true)
      const { cookie } = await request(manager, undefined, (s) => s.set('card', 'alice-secret'))
      expect(JSON.stringify(store.writes)).to.not.contain('alice-secret')
      await request(manager, cookie, (s) => expect(s.get('card')).to.equal('alice-secret'))
    })

    it('is off by default for MemoryStore and can be forced on', () => {
      expect(new SessionManager({ secret: SECRET }).encrypted).to.equal(false)
      expect(new SessionManager({ secret: SECRET, encrypt: true }).encrypted).to.equal(true)
    })

    it('treats a tampered or moved record as no session, counts it and deletes it', async () => {
      const store = new InstrumentedStore({ inProcess: false })
      const manager = new SessionManager({ secret: SECRET, store })
      const a = await request(manager, undefined, (s) => s.set('role', 'user'))
      const b = await request(manager, undefined, (s) => s.set('role', 'admin'))
      const [idA, idB] = [store.writes[0]!.id, store.writes[1]!.id]
      // Copy B's sealed field into A: the ciphertext is bound to B's id and must not decrypt in A.
      const sealed = (await store.inner.get(idB))!.fields.role!
      // Written as someone without the secret would: the record's own seal kept as it was.
      const { seal } = (await store.inner.get(idA))!
      await store.inner.write(idA, {
        set: { role: sealed },
        unset: [],
        createdAt: Date.now(),
        touchedAt: Date.now(),
        expiresAt: Date.now() + 60_000,
        established: false,
        create: false,
        seal: seal!,
        sealBefore: seal!,
      })
      await request(manager, a.cookie, (s) => expect(s.isNew).to.equal(true))
      expect(manager.metrics.get('decryptFailures')).to.equal(1)
      expect(await store.inner.get(idA)).to.equal(undefined)
      await request(manager, b.cookie, (s) => expect(s.get('role')).to.equal('admin'))
    })

    it('treats garbage in the store as no session', async () => {
      const store = new InstrumentedStore()
      const manager = new SessionManager({ secret: SECRET, store })
      const { cookie } = await request(manager, undefined, (s) => s.set('n', 1))
      const id = store.writes[0]!.id
      await store.inner.write(id, {
        set: { n: '{not json' },
        unset: [],
        createdAt: Date.now(),
        touchedAt: Date.now(),
        expiresAt: Date.now() + 60_000,
        established: false,
        create: false,
      })
      await request(manager, cookie, (s) => expect(s.isNew).to.equal(true))
      expect(manager.metrics.get('decryptFailures')).to.equal(1)
    })
  })

  describe('options', () => {
    it('are validated at construction with messages that name them', () => {
      const cases: Array<[Partial<TetherOptions>, RegExp]> = [
        [{ secret: undefined as never }, /^secret must be/],
        [{ secret: 'short' }, /^secret must be at least 32/],
        [{ idleTimeout: 0 }, /^idleTimeout must be a positive number of milliseconds/],
        [{ absoluteTimeout: Number.NaN }, /^absoluteTimeout must be/],
        [{ touchAfter: 1 }, /^touchAfter must be a number from 0/],
        [{ store: {} as never }, /^store must be a SessionStore/],
        [{ encrypt: 'yes' as never }, /^encrypt must be true or false/],
        [{ route: 'has.dot' }, /^route must be 1 to 32 characters/],
        [{ metrics: {} as never }, /^metrics must be a Metrics instance/],
        [{ owner: 'user' as never }, /^owner must be a function/],
        [{ cookie: { sameSite: 'sometimes' as never } }, /^cookie\.sameSite must be one of/],
      ]
      for (const [options, message] of cases) {
        expect(() => new SessionManager({ secret: SECRET, ...options }), String(message)).to.throw(
          TypeError,
          message,
        )
      }
    })

    it('takes the route from TETHER_ROUTE, as the cluster sets it', () => {
      const saved = process.env.TETHER_ROUTE
      process.env.TETHER_ROUTE = 'w7'
      try {
        expect(new SessionManager({ secret: SECRET }).route).to.equal('w7')
        process.env.TETHER_ROUTE = 'bad route'
        expect(() => new SessionManager({ secret: SECRET })).to.throw(TypeError, /TETHER_ROUTE/)
      } finally {
        if (saved === undefined) delete process.env.TETHER_ROUTE
        else process.env.TETHER_ROUTE = saved
      }
    })

    it('passes the owner to the store on each write', async () => {
      const { store, manager } = make({ owner: (s) => s.get('user') as string | undefined })
      await request(manager, undefined, (s) => s.set('user', 'u1'))
      expect(store.writes[0]!.change.owner).to.equal('u1')
    })

    it('accepts a Keyring-compatible array of Buffers', () => {
      expect(new SessionManager({ secret: [Buffer.alloc(32, 1)] }).keyring).to.be.instanceOf(Keyring)
    })
  })

  it('shares counters through a Metrics instance and reports active sessions', async () => {
    const metrics = new Metrics()
    const manager = new SessionManager({ secret: SECRET, metrics, store: new MemoryStore() })
    const { cookie } = await request(manager, undefined, (s) => s.set('n', 1))
    await request(manager, cookie)
    const snapshot = await metrics.snapshot()
    expect(snapshot).to.include({ created: 1, loadHits: 1, loadMisses: 0, hitRate: 1, active: 1 })
  })
})
