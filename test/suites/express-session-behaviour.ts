// express-session's Store API, driven the way express-session drives it, on a Tether store through
// toExpressSessionStore and on express-session's own MemoryStore side by side: what an app sees
// must be the same.
import { type SessionStore, toExpressSessionStore } from '@tether/core'
import { expect } from 'chai'
import session from 'express-session'

type Store = session.Store & { length?: (cb: (e: unknown, n?: number) => void) => void }

/** Calls a callback-style store method and resolves with its result. */
function call<T>(store: Store, method: string, ...args: unknown[]): Promise<T> {
  return new Promise((resolve, reject) => {
    ;(store as unknown as Record<string, (...a: unknown[]) => void>)[method]!.call(
      store,
      ...args,
      // express-session takes undefined and null alike for "no session".
      (error: unknown, value: T) => (error ? reject(error) : resolve((value ?? null) as T)),
    )
  })
}

/** A cookie as express-session stores it, expiring `ms` after `from` (fixed, so both stores get the very same). */
const cookie = (ms: number, from = Date.now()) => ({
  originalMaxAge: ms,
  expires: new Date(from + ms).toISOString(),
  httpOnly: true,
  path: '/',
})
let counter = 0
const sid = () => `sid-${process.pid}-${Date.now()}-${counter++}`

/**
 * Runs the same steps on a store and returns what an app would read back. The cookies expire from
 * `t0`, the same for both stores compared, and taken when the test starts: the test files are
 * loaded minutes before a slow suite gets to this one.
 */
async function transcript(store: Store, t0: number): Promise<unknown[]> {
  const out: unknown[] = []
  const a = sid()
  await call(store, 'set', a, { cookie: cookie(600_000, t0), user: 'alice', cart: [1, 2] })
  out.push(await call(store, 'get', a))
  // touch with a later expiry: the stored cookie is the one given.
  const later = cookie(1_200_000, t0)
  await call(store, 'touch', a, { cookie: later, user: 'alice', cart: [1, 2] })
  out.push((await call<{ cookie: { expires: string } }>(store, 'get', a)).cookie.expires === later.expires)
  // a save that removes a key, as after a change in the app.
  await call(store, 'set', a, { cookie: later, user: 'alice' })
  out.push(await call(store, 'get', a))
  // saved already expired: never read back.
  const b = sid()
  await call(store, 'set', b, {
    cookie: { ...cookie(60_000), expires: new Date(Date.now() - 1000).toISOString() },
    x: 1,
  })
  out.push(await call(store, 'get', b))
  // destroy (what logout and regenerate do).
  await call(store, 'destroy', a)
  out.push(await call(store, 'get', a))
  out.push(await call(store, 'get', 'never-saved'))
  return out
}

/** The express-session behaviours, on `makeStore()` through the adapter. */
export function describeExpressSessionBehaviour(name: string, makeStore: () => Promise<SessionStore>): void {
  describe(`${name} as an express-session store`, () => {
    let tether: Store
    before(async () => {
      tether = toExpressSessionStore(await makeStore(), session) as Store
    })

    it("reads back what express-session's MemoryStore reads back (save, touch, expiry, destroy)", async () => {
      const t0 = Date.now()
      const expected = await transcript(new session.MemoryStore() as Store, t0)
      expect(await transcript(tether, t0)).to.deep.equal(expected)
    })

    it('answers promises as well as callbacks (as connect-redis 9 stores do)', async () => {
      const id = sid()
      const methods = tether as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>
      await methods.set!(id, { cookie: cookie(60_000), n: 1 })
      expect(await methods.get!(id)).to.deep.include({ n: 1 })
      await methods.destroy!(id)
      expect(await methods.get!(id)).to.equal(null)
    })

    it('counts its sessions with length(), expired ones not included', async () => {
      const before = await call<number>(tether, 'length')
      await call(tether, 'set', sid(), { cookie: cookie(60_000) })
      await call(tether, 'set', sid(), { cookie: cookie(25) })
      expect(await call<number>(tether, 'length')).to.equal(before + 2)
      await new Promise((resolve) => setTimeout(resolve, 60)) // past the second one's expiry
      expect(await call<number>(tether, 'length')).to.equal(before + 1)
    })
  })
}
