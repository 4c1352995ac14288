import { SessionManager } from '@tether/core'
import { expect } from 'chai'

const SECRET = 'v'.repeat(32)

/** A stored session's cookie, made by one request that sets `obj` to {a: 1}. */
async function sessionWithObject(manager: SessionManager): Promise<string> {
  const ctx = await manager.open(undefined)
  ctx.session.set('obj', { a: 1 })
  const setCookie = await ctx.commit(false)
  ctx.release()
  return setCookie!.split(';')[0]!
}

describe('session values are copies', () => {
  let manager: SessionManager
  beforeEach(() => {
    manager = new SessionManager({ secret: SECRET, route: 'w0' })
  })
  afterEach(() => manager.close())

  describe('set', () => {
    it('keeps what the value was when set, not what the caller does to it afterwards', async () => {
      const cookie = await sessionWithObject(manager)
      const ctx = await manager.open(cookie)
      const o = { a: 1, list: [1] }
      ctx.session.set('obj', o)
      o.a = 2
      o.list.push(2)
      expect(ctx.session.get('obj')).to.deep.equal({ a: 1, list: [1] })
      await ctx.commit(false)
      ctx.release()
      const next = await manager.open(cookie)
      expect(next.session.get('obj')).to.deep.equal({ a: 1, list: [1] })
      next.release()
    })

    it('does not let a change after set reach a concurrent request of the same session', async () => {
      const cookie = await sessionWithObject(manager)
      const [one, two] = await Promise.all([manager.open(cookie), manager.open(cookie)])
      const o = { a: 5 }
      one.session.set('obj', o)
      o.a = 6
      expect(two.session.get('obj')).to.deep.equal({ a: 5 })
      one.release()
      two.release()
    })

    it('reads back what JSON keeps in the same request too (a Date becomes its string)', async () => {
      const ctx = await manager.open(undefined)
      const at = new Date(0)
      ctx.session.set('at', at)
      expect(ctx.session.get('at')).to.equal(at.toJSON())
      ctx.release()
    })
  })

  describe('get', () => {
    it('returns a copy: changing it without set changes nothing stored', async () => {
      const cookie = await sessionWithObject(manager)
      const ctx = await manager.open(cookie)
      const got = ctx.session.get('obj') as { a: number }
      got.a = 99
      expect(ctx.session.get('obj')).to.deep.equal({ a: 1 })
      await ctx.commit(false)
      ctx.release()
      const next = await manager.open(cookie)
      expect(next.session.get('obj')).to.deep.equal({ a: 1 })
      next.release()
    })

    it("does not let one request's change of a read value show in a concurrent request", async () => {
      const cookie = await sessionWithObject(manager)
      const [one, two] = await Promise.all([manager.open(cookie), manager.open(cookie)])
      ;(one.session.get('obj') as { a: number }).a = 7
      expect(two.session.get('obj')).to.deep.equal({ a: 1 })
      one.release()
      two.release()
    })

    it('still lets a caller change a read value and set it again (the documented way)', async () => {
      const cookie = await sessionWithObject(manager)
      const ctx = await manager.open(cookie)
      const got = ctx.session.get('obj') as { a: number }
      got.a = 3
      ctx.session.set('obj', got)
      await ctx.commit(false)
      ctx.release()
      const next = await manager.open(cookie)
      expect(next.session.get('obj')).to.deep.equal({ a: 3 })
      next.release()
    })
  })

  it('regenerate() keeps the same copies', async () => {
    const cookie = await sessionWithObject(manager)
    const ctx = await manager.open(cookie)
    await ctx.session.regenerate()
    expect(ctx.session.get('obj')).to.deep.equal({ a: 1 })
    const setCookie = await ctx.commit(false)
    ctx.release()
    const next = await manager.open(setCookie!.split(';')[0])
    expect(next.session.get('obj')).to.deep.equal({ a: 1 })
    next.release()
  })
})
