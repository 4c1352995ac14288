import { MemoryStore, SessionManager } from '@tether/core'
import { expect } from 'chai'
import { writeOf } from '../suites/store-contract.js'

// With an in-process store, a session's state outlives the request that released it, so the
// session's next request skips decoding the record. Whatever changes the record meanwhile must
// still be what that next request sees.

const SECRET = 's'.repeat(32)

/** One request without waiting: open with `cookie`, run `use` on the session, commit, release. */
function request<T>(
  manager: SessionManager,
  cookie: string | undefined,
  use: (session: ReturnType<SessionManager['openNow']> & object) => T,
): { result: T; setCookie: string | undefined } {
  const ctx = manager.openNow(cookie)!
  const result = use(ctx)
  const setCookie = ctx.commitNow(false)
  ctx.release()
  return { result, setCookie: typeof setCookie === 'string' ? setCookie : undefined }
}

/** A new session with `count` 1 on `manager`; its cookie and store id. */
async function newSession(manager: SessionManager, store: MemoryStore) {
  const before = new Set(await store.ids())
  const { setCookie } = request(manager, undefined, (ctx) => ctx.session.set('count', 1))
  const id = (await store.ids()).find((one) => !before.has(one))!
  return { cookie: setCookie!.split(';')[0]!, id }
}

const countOf = (manager: SessionManager, cookie: string) =>
  request(manager, cookie, (ctx) => ctx.session.get('count')).result

/** Increments `count` in one request. */
const increment = (manager: SessionManager, cookie: string) =>
  request(manager, cookie, (ctx) => ctx.session.set('count', (ctx.session.get('count') as number) + 1))

describe('released sessions of an in-process store', () => {
  let store: MemoryStore
  let manager: SessionManager
  beforeEach(() => {
    store = new MemoryStore()
    manager = new SessionManager({ secret: SECRET, route: 'w0', store })
  })
  afterEach(async () => {
    await manager.close()
    await store.close()
  })

  it('serve each next request with the session as last committed', async () => {
    const { cookie } = await newSession(manager, store)
    for (let i = 0; i < 5; i++) increment(manager, cookie)
    expect(countOf(manager, cookie)).to.equal(6)
    expect((await store.get((await store.ids())[0]!))!.fields.count).to.equal('6')
    // Each request after the first found the session: counted as loads that hit.
    expect(manager.metrics.get('loadHits')).to.equal(6)
  })

  it('show a write another manager made to the same store', async () => {
    const other = new SessionManager({ secret: SECRET, route: 'w0', store })
    const { cookie } = await newSession(manager, store)
    increment(manager, cookie)
    increment(other, cookie)
    increment(other, cookie)
    expect(countOf(manager, cookie)).to.equal(4)
    increment(manager, cookie)
    expect(countOf(other, cookie)).to.equal(5)
    await other.close()
  })

  it('show a write made straight to the store', async () => {
    const { cookie, id } = await newSession(manager, store)
    increment(manager, cookie)
    store.writeNow(id, writeOf({ set: { count: '40' }, create: false }))
    expect(countOf(manager, cookie)).to.equal(40)
  })

  it('are gone once the record is destroyed, by the store or by log out everywhere', async () => {
    const { cookie, id } = await newSession(manager, store)
    increment(manager, cookie)
    await store.destroy(id)
    expect(countOf(manager, cookie)).to.equal(undefined)

    const owned = new SessionManager({
      secret: SECRET,
      route: 'w0',
      store,
      owner: (session) => session.get('user') as string | undefined,
    })
    const second = await newSession(owned, store)
    request(owned, second.cookie, (ctx) => ctx.session.set('user', 'ada'))
    expect(countOf(owned, second.cookie)).to.equal(1)
    // Another manager on the same store ends them: this one kept the session released.
    const admin = new SessionManager({
      secret: SECRET,
      route: 'w0',
      store,
      owner: (session) => session.get('user') as string | undefined,
    })
    expect(await admin.destroyAll('ada')).to.equal(1)
    expect(countOf(owned, second.cookie)).to.equal(undefined)
    await owned.close()
    await admin.close()
  })

  it('are gone once the store evicted the record to make room', async () => {
    const small = new MemoryStore({ maxSessions: 2 })
    const tight = new SessionManager({ secret: SECRET, route: 'w0', store: small })
    const first = await newSession(tight, small)
    increment(tight, first.cookie)
    await newSession(tight, small)
    await newSession(tight, small) // evicts the least recently active: the first
    expect(countOf(tight, first.cookie)).to.equal(undefined)
    await tight.close()
    await small.close()
  })

  it('are gone once the record expired', async () => {
    const brief = new SessionManager({ secret: SECRET, route: 'w0', store, idleTimeout: 50 })
    const { cookie } = await newSession(brief, store)
    increment(brief, cookie)
    const deadline = Date.now() + 60
    while (Date.now() <= deadline) await new Promise((resolve) => setTimeout(resolve, 10))
    expect(countOf(brief, cookie)).to.equal(undefined)
    await brief.close()
  })

  it('do not carry a change made after the commit, which was never stored', async () => {
    const { cookie } = await newSession(manager, store)
    const ctx = manager.openNow(cookie)!
    ctx.commitNow(false)
    ctx.session.set('count', 99) // after the head went out: kept for a later commit, none comes
    ctx.release()
    expect(countOf(manager, cookie)).to.equal(1)
  })

  it('keep every session right past the number kept', async () => {
    const sessions: string[] = []
    for (let i = 0; i < 2500; i++) sessions.push((await newSession(manager, store)).cookie)
    for (let round = 0; round < 3; round++) for (const cookie of sessions) increment(manager, cookie)
    const counts = sessions.map((cookie) => countOf(manager, cookie))
    expect(counts.every((count) => count === 4)).to.equal(true)
  })
})
