import { MemoryStore, Metrics } from '@tether/core'
import { expect } from 'chai'
import sinon from 'sinon'
import { describePrototypeKeys } from '../suites/prototype-keys.js'
import { describeStoreContract, newStoreId, writeOf } from '../suites/store-contract.js'

describeStoreContract('MemoryStore', async () => new MemoryStore({ sweepInterval: 50 }))

describe('MemoryStore', () => {
  let clock: sinon.SinonFakeTimers | undefined
  afterEach(() => clock?.restore())

  it('removes expired sessions on its sweep, touching only what expired', async () => {
    clock = sinon.useFakeTimers({ now: 1_000_000, toFake: ['Date', 'setInterval', 'clearInterval'] })
    const store = new MemoryStore({ sweepInterval: 1000 })
    for (let i = 0; i < 100; i++) {
      await store.write(`short-${i}`, writeOf({ expiresAt: Date.now() + 5_000 }))
      await store.write(`long-${i}`, writeOf({ expiresAt: Date.now() + 60_000 }))
    }
    expect(store.size).to.equal(200)
    clock.tick(6_000)
    expect(store.size).to.equal(100)
    expect(await store.get('long-5')).to.not.equal(undefined)
    clock.tick(60_000)
    expect(store.size).to.equal(0)
    await store.close()
  })

  it('reschedules a touched session instead of expiring it', async () => {
    clock = sinon.useFakeTimers({ now: 1_000_000, toFake: ['Date', 'setInterval', 'clearInterval'] })
    const store = new MemoryStore({ sweepInterval: 1000 })
    await store.write('a', writeOf({ expiresAt: Date.now() + 5_000 }))
    clock.tick(4_000)
    await store.touch('a', Date.now(), Date.now() + 5_000)
    clock.tick(4_000)
    expect(store.size).to.equal(1)
    expect(store.sweep(Date.now() + 10_000)).to.equal(1)
    await store.close()
  })

  it('never returns an expired session even before the sweep runs', async () => {
    clock = sinon.useFakeTimers({ now: 1_000_000, toFake: ['Date'] })
    const store = new MemoryStore({ sweepInterval: 60_000 })
    await store.write('a', writeOf({ expiresAt: Date.now() + 1_000 }))
    clock.tick(1_001)
    expect(await store.get('a')).to.equal(undefined)
    await store.close()
  })

  describe('maxSessions', () => {
    it('evicts the least recently active anonymous session, never an established one', async () => {
      const metrics = new Metrics()
      const store = new MemoryStore({ maxSessions: 3 })
      store.attachMetrics(metrics)
      await store.write('signed-in', writeOf({ established: true }))
      await store.write('anon-1', writeOf())
      await store.write('anon-2', writeOf())
      await store.touch('anon-1', Date.now(), Date.now() + 60_000)
      // An attacker floods new sessions: only anonymous ones make room, oldest activity first.
      await store.write('flood-1', writeOf())
      expect(await store.get('anon-2')).to.equal(undefined)
      await store.write('flood-2', writeOf())
      expect(await store.get('anon-1')).to.equal(undefined)
      for (let i = 3; i < 50; i++) await store.write(`flood-${i}`, writeOf())
      expect(await store.get('signed-in')).to.not.equal(undefined)
      expect(store.size).to.equal(3)
      expect(metrics.get('evictions')).to.equal(49)
      await store.close()
    })

    it('refuses a new session when every stored one is established', async () => {
      const store = new MemoryStore({ maxSessions: 2 })
      await store.write('a', writeOf({ established: true }))
      await store.write('b', writeOf({ established: true }))
      let error: unknown
      try {
        await store.write('c', writeOf())
      } catch (e) {
        error = e
      }
      expect(error).to.be.instanceOf(Error)
      expect((error as Error).message).to.match(/maxSessions/)
      expect(await store.get('a')).to.not.equal(undefined)
      expect(await store.get('b')).to.not.equal(undefined)
      await store.close()
    })

    it('lets existing sessions keep writing when full', async () => {
      const store = new MemoryStore({ maxSessions: 1 })
      await store.write('a', writeOf({ established: true, set: { n: '1' } }))
      expect(await store.write('a', writeOf({ set: { n: '2' }, create: false }))).to.equal(true)
      expect((await store.get('a'))?.fields).to.deep.equal({ n: '2' })
      await store.close()
    })
  })

  it('does not keep the process alive', async () => {
    const { execFileSync } = await import('node:child_process')
    const started = Date.now()
    execFileSync(
      process.execPath,
      [
        ...process.execArgv,
        '--input-type=module',
        '-e',
        "import { MemoryStore } from '@tether/core'; new MemoryStore()",
      ],
      // The child's own coverage would only show module loading; keep it out of the report.
      { timeout: 10_000, cwd: process.cwd(), env: { ...process.env, NODE_V8_COVERAGE: '' } },
    )
    expect(Date.now() - started).to.be.below(10_000)
  })

  it('validates its options, naming them', () => {
    expect(() => new MemoryStore({ maxSessions: 0 })).to.throw(
      TypeError,
      /maxSessions must be a positive integer/,
    )
    expect(() => new MemoryStore({ sweepInterval: -1 })).to.throw(TypeError, /sweepInterval must be/)
  })

  it('lists and counts its sessions', async () => {
    const store = new MemoryStore()
    const id = newStoreId()
    await store.write(id, writeOf())
    expect(await store.count()).to.equal(1)
    expect(await store.ids()).to.deep.equal([id])
    await store.clear()
    expect(await store.count()).to.equal(0)
    await store.close()
  })
})

describePrototypeKeys('MemoryStore', async () => new MemoryStore())
