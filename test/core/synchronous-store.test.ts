import { MemoryStore, SessionManager, type SessionWrite, WAIT, type WriteConflict } from '@tether/core'
import { expect } from 'chai'
import { writeOf } from '../suites/store-contract.js'

const SECRET = 's'.repeat(32)

/** A MemoryStore whose write() does more than the inherited writeNow() would. */
class CountingStore extends MemoryStore {
  writes = 0
  override async write(id: string, change: SessionWrite): Promise<boolean | WriteConflict> {
    this.writes++
    return super.write(id, change)
  }
}

/** An asynchronous store with a cache in front: `getCached` answers for the ids in `warm` only. */
class CachingStore extends CountingStore {
  readonly warm = new Set<string>()
  cachedReads = 0
  getCached(id: string) {
    if (!this.warm.has(id)) return undefined
    this.cachedReads++
    return this.getNow(id)
  }
}

/** A CachingStore with one stored session (count 1) that is not in its cache yet. */
async function cachingStoreWithSession() {
  const store = new CachingStore()
  const manager = new SessionManager({ secret: SECRET, route: 'w0', store })
  const first = await manager.open(undefined)
  first.session.set('count', 1)
  const cookie = (await first.commit(false))!.split(';')[0]!
  first.release()
  const [id] = await store.ids()
  return { store, manager, cookie, id: id! }
}

describe('SessionManager with a synchronous store (openNow / commitNow)', () => {
  it('opens, changes and commits a MemoryStore session without waiting, and reads it back', () => {
    const store = new MemoryStore()
    const manager = new SessionManager({ secret: SECRET, route: 'w0', store })
    const first = manager.openNow(undefined)!
    first.session.set('count', 1)
    const setCookie = first.commitNow(false)
    first.release()
    expect(setCookie)
      .to.be.a('string')
      .and.match(/^tether\.sid=/)
    const cookie = (setCookie as string).split(';')[0]!

    const second = manager.openNow(cookie)!
    expect(second.session.get('count')).to.equal(1)
    second.session.set('count', 2)
    expect(second.commitNow(false)).to.equal(undefined) // same session: no new cookie
    second.release()
    expect(manager.metrics.get('created')).to.equal(1)
    expect(manager.openNow(cookie)!.session.get('count')).to.equal(2)
  })

  it('keeps the asynchronous path for a subclass that overrides write() but not writeNow()', async () => {
    const store = new CountingStore()
    const manager = new SessionManager({ secret: SECRET, route: 'w0', store })
    const ctx = await manager.open(undefined)
    ctx.session.set('a', 1)
    expect(ctx.commitNow(false)).to.equal(WAIT)
    await ctx.commit(false)
    expect(store.writes).to.equal(1)
  })

  it('with an asynchronous store, opens and commits at once whatever needs no store call', async () => {
    const store = new CountingStore()
    const manager = new SessionManager({ secret: SECRET, route: 'w0', store })
    // No cookie: a fresh session needs no read.
    const first = manager.openNow(undefined)!
    first.session.set('count', 1)
    expect(first.commitNow(false)).to.equal(WAIT)
    const cookie = (await first.commit(false))!.split(';')[0]!
    first.release()
    // A stored session that nobody holds must be read: open() does it.
    expect(manager.openNow(cookie)).to.equal(undefined)
    const holder = await manager.open(cookie)
    // Held by a request in flight: shared at once, no read.
    const sharer = manager.openNow(cookie)!
    expect(sharer.session.get('count')).to.equal(1)
    // Unchanged and no touch due: nothing to store, no waiting, no store call.
    expect(sharer.commitNow(false)).to.equal(undefined)
    expect(holder.commitNow(false)).to.equal(undefined)
    sharer.release()
    holder.release()
    expect(store.writes).to.equal(1)
  })

  it("with an asynchronous store, opens a session from the store's cache at once, else through open()", async () => {
    const { store, manager, cookie, id } = await cachingStoreWithSession()
    // Not in the cache: only open() can read it.
    expect(manager.openNow(cookie)).to.equal(undefined)
    store.warm.add(id)
    const ctx = manager.openNow(cookie)!
    expect(ctx.session.get('count')).to.equal(1)
    expect(ctx.session.isNew).to.equal(false)
    ctx.release()
    expect(store.cachedReads).to.equal(1)
  })

  it('treats a corrupt record from the cache as no session, and removes it', async () => {
    const { store, manager, cookie, id } = await cachingStoreWithSession()
    store.writeNow(id, writeOf({ set: { count: '{not json' }, create: false }))
    store.warm.add(id)
    const ctx = manager.openNow(cookie)!
    expect(ctx.session.isNew).to.equal(true)
    expect(ctx.session.get('count')).to.equal(undefined)
    ctx.release()
    expect(manager.metrics.get('decryptFailures')).to.equal(1)
    await new Promise((resolve) => setImmediate(resolve))
    expect(store.getNow(id)).to.equal(undefined)
  })

  it('throws ERR_TETHER_STORE_UNAVAILABLE from commitNow when the store refuses the write', async () => {
    const store = new MemoryStore({ maxSessions: 1 })
    const manager = new SessionManager({ secret: SECRET, route: 'w0', store })
    // The one slot goes to a logged-in (regenerated) session, which is never evicted.
    const login = manager.openNow(undefined)!
    await login.session.regenerate()
    login.session.set('user', 1)
    expect(login.commitNow(false)).to.be.a('string')
    const next = manager.openNow(undefined)!
    next.session.set('x', 1)
    expect(() => next.commitNow(false))
      .to.throw()
      .with.property('code', 'ERR_TETHER_STORE_UNAVAILABLE')
    expect(manager.metrics.get('storeErrors')).to.equal(1)
    // The refused change is kept: once there is room, the next commit stores it.
    await login.session.destroy()
    login.release()
    next.session.set('y', 2)
    expect(next.commitNow(false)).to.be.a('string')
    next.release()
    const stored = await store.get([...(await store.ids())][0]!)
    expect(Object.keys(stored!.fields).sort()).to.deep.equal(['x', 'y'])
  })
})
