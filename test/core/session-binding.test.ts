import {
  MemoryStore,
  type SessionContext,
  SessionManager,
  type SessionWrite,
  WAIT,
  type WriteConflict,
} from '@tether/core'
import { detectMisroute, SessionBinding } from '@tether/core/adapter'
import { expect } from 'chai'

const SECRET = 's'.repeat(32)

/** The smallest adapter: a binding that counts how often the core asked whether it is TLS. */
class TestBinding extends SessionBinding {
  asked = 0
  get secure(): boolean {
    this.asked++
    return false
  }
}

/** A MemoryStore whose writes wait until `finish()` is called (so they take the asynchronous path). */
class SlowStore extends MemoryStore {
  #pending: (() => void)[] = []
  override async write(id: string, change: SessionWrite): Promise<boolean | WriteConflict> {
    await new Promise<void>((resolve) => this.#pending.push(resolve))
    return super.write(id, change)
  }
  finish(): void {
    for (const resolve of this.#pending.splice(0)) resolve()
  }
}

/** Counts the releases of a context. */
function countReleases(ctx: SessionContext): { count: number } {
  const released = { count: 0 }
  const release = ctx.release.bind(ctx)
  ctx.release = () => {
    released.count++
    release()
  }
  return released
}

describe('SessionBinding, the per-request machine both adapters share', () => {
  it('commits at once with an in-process store, asking for TLS only when a cookie is sent', async () => {
    const manager = new SessionManager({ secret: SECRET, route: 'w0' })
    const binding = new TestBinding(manager.openNow(undefined)!)
    expect(binding.session).to.equal(binding.ctx.session)
    expect(binding.commitNow()).to.equal(undefined)
    expect(binding.asked).to.equal(0)

    const second = new TestBinding(manager.openNow(undefined)!)
    second.session.set('n', 1)
    expect(second.commitNow()).to.match(/^tether\.sid=/)
    expect(second.asked).to.equal(1)
    binding.release()
    second.release()
    await manager.close()
  })

  it('passes the end of the response on each time; the context releases its hold once', async () => {
    const manager = new SessionManager({ secret: SECRET, route: 'w0' })
    const binding = new TestBinding(await manager.open(undefined))
    const released = countReleases(binding.ctx)
    binding.release()
    binding.release()
    expect(released.count).to.equal(2) // the context itself ignores the second
    await manager.close()
  })

  it('waits for a running commit before it releases the session', async () => {
    const store = new SlowStore()
    const manager = new SessionManager({ secret: SECRET, route: 'w0', store })
    const binding = new TestBinding(await manager.open(undefined))
    binding.session.set('n', 1)
    expect(binding.commitNow()).to.equal(WAIT)
    const released = countReleases(binding.ctx)
    const commit = binding.commit()
    binding.release() // the client went away while the write runs
    expect(released.count).to.equal(0)
    store.finish()
    expect(await commit).to.match(/^tether\.sid=/)
    expect(released.count).to.equal(1)
    await store.close()
  })

  it('releases after a commit that fails, when the response was over meanwhile', async () => {
    const store = new SlowStore()
    const manager = new SessionManager({ secret: SECRET, route: 'w0', store })
    const binding = new TestBinding(await manager.open(undefined))
    binding.session.set('n', 1)
    const released = countReleases(binding.ctx)
    store.write = async () => {
      throw new Error('down')
    }
    const commit = binding.commit()
    binding.release()
    let failure: unknown
    await commit.catch((error: unknown) => {
      failure = error
    })
    expect(failure).to.have.property('code', 'ERR_TETHER_STORE_UNAVAILABLE')
    expect(released.count).to.equal(1)
    await store.close()
  })
})

describe('detectMisroute', () => {
  const saved = process.env.TETHER_ROUTE
  afterEach(() => {
    if (saved === undefined) delete process.env.TETHER_ROUTE
    else process.env.TETHER_ROUTE = saved
  })

  it('never finds a misroute outside a cluster', async () => {
    delete process.env.TETHER_ROUTE
    const owner = new SessionManager({ secret: SECRET, route: 'w0' })
    const other = new SessionManager({ secret: SECRET, route: 'w1', store: owner.store })
    const ctx = await owner.open(undefined)
    ctx.session.set('n', 1)
    const cookie = (await ctx.commit(false))!.split(';')[0]!
    ctx.release()
    const there = await other.open(cookie)
    expect(detectMisroute(other, there, null)).to.equal(false)
    there.release()
    await owner.close()
  })

  it("counts a request for another worker's session, which then creates nothing here", async () => {
    process.env.TETHER_ROUTE = 'w1'
    const owner = new SessionManager({ secret: SECRET, route: 'w0' })
    const other = new SessionManager({ secret: SECRET, route: 'w1', store: new MemoryStore() })
    const ctx = await owner.open(undefined)
    ctx.session.set('n', 1)
    const cookie = (await ctx.commit(false))!.split(';')[0]!
    ctx.release()

    const there = await other.open(cookie) // not in w1's store: a fresh session, w0's route
    expect(there.route).to.equal('w0')
    expect(detectMisroute(other, there, null)).to.equal(true)
    expect((await other.metrics.snapshot()).misroutes).to.equal(1)
    there.session.set('n', 2)
    expect(await there.commit(false)).to.equal(undefined)
    there.release()

    const own = await other.open(undefined)
    expect(detectMisroute(other, own, null)).to.equal(false)
    own.release()
    await owner.close()
    await other.close()
  })
})
