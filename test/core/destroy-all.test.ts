import { MemoryStore, SessionManager } from '@tether/core'
import { expect } from 'chai'
import { describeDestroyAll, OWNER } from '../suites/destroy-all.js'

const SECRET = 'destroy-all-test-secret-0123456789abcdef'

describeDestroyAll('MemoryStore', async () => {
  const manager = new SessionManager({ secret: SECRET, owner: OWNER })
  return { manager, close: () => manager.close() }
})

describe('destroyAll() needs what it relies on', () => {
  it('says so without the owner option', async () => {
    const manager = new SessionManager({ secret: SECRET })
    let error: Error | undefined
    await manager.destroyAll('alice').catch((e: Error) => {
      error = e
    })
    expect(error).to.be.instanceOf(TypeError)
    expect(error?.message).to.include('destroyAll() needs the owner option')
    await manager.close()
  })

  it('keeps the MemoryStore index no larger than the store: expired and destroyed sessions leave it', async () => {
    const store = new MemoryStore({ sweepInterval: 20 })
    const manager = new SessionManager({
      secret: SECRET,
      owner: OWNER,
      store,
      idleTimeout: 50,
      absoluteTimeout: 50,
    })
    for (let i = 0; i < 20; i++) {
      const ctx = await manager.open(undefined)
      ctx.session.set('user', 'erin')
      await ctx.commit(false)
      ctx.release()
    }
    expect(await store.sessionsOf('erin')).to.have.length(20)
    const deadline = Date.now() + 5_000
    while (store.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    expect(store.size).to.equal(0)
    expect(await store.sessionsOf('erin')).to.deep.equal([])
    expect(await store.destroyAll('erin')).to.deep.equal([])
    await store.close()
  })
})
