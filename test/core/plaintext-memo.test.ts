import { MemoryStore, SessionManager, type StoredSession, storeIdOf, verifyCookieValue } from '@tether/core'
import { expect } from 'chai'

const SECRET = 'm'.repeat(32)

/**
 * Hands out one frozen record per session on every read, as HybridStore's cache does, and can be
 * told to serve one session's record under another id (a store bug or tampering).
 */
class FrozenRecordStore extends MemoryStore {
  readonly #frozen = new Map<string, StoredSession>()
  readonly aliases = new Map<string, string>()

  override async get(id: string): Promise<StoredSession | undefined> {
    const source = this.aliases.get(id) ?? id
    let record = this.#frozen.get(source)
    if (record === undefined) {
      const read = await super.get(source)
      if (read === undefined) return undefined
      record = Object.freeze({ ...read, fields: Object.freeze({ ...read.fields }) })
      this.#frozen.set(source, record)
    }
    return record
  }

  override async write(id: string, change: Parameters<MemoryStore['write']>[1]): Promise<boolean> {
    this.#frozen.delete(id)
    return super.write(id, change)
  }
}

async function newSession(manager: SessionManager, values: Record<string, unknown>): Promise<string> {
  const ctx = await manager.open(undefined)
  for (const [key, value] of Object.entries(values)) ctx.session.set(key, value)
  const header = await ctx.commit(false)
  ctx.release()
  return header!.split(';')[0]!
}

function storeIdOfCookie(manager: SessionManager, cookie: string): string {
  const verified = verifyCookieValue(cookie.slice(cookie.indexOf('=') + 1), manager.keyring)
  return storeIdOf(verified!.token)
}

async function load(manager: SessionManager, cookie: string) {
  const ctx = await manager.open(cookie)
  ctx.release()
  return ctx.session
}

describe('encrypted sessions read from a store that repeats frozen records', () => {
  it('gives every load its own values, however often the record is reused', async () => {
    const store = new FrozenRecordStore()
    const manager = new SessionManager({ secret: SECRET, store, encrypt: true })
    const cookie = await newSession(manager, { cart: ['apple'], user: { id: 7 } })
    const first = await load(manager, cookie)
    ;(first.get('cart') as string[]).push('pear') // changed in place, never set: not saved
    const second = await load(manager, cookie)
    expect(second.get('cart')).to.deep.equal(['apple'])
    expect(second.get('user')).to.deep.equal({ id: 7 })
    expect(second.get('cart')).to.not.equal(first.get('cart'))
    expect(manager.metrics.get('decryptFailures')).to.equal(0)
  })

  it("refuses one session's record served under another id, even after decrypting it once", async () => {
    const store = new FrozenRecordStore()
    const manager = new SessionManager({ secret: SECRET, store, encrypt: true })
    const alice = await newSession(manager, { user: 'alice' })
    const mallory = await newSession(manager, { user: 'mallory' })
    expect((await load(manager, alice)).get('user')).to.equal('alice')
    store.aliases.set(storeIdOfCookie(manager, mallory), storeIdOfCookie(manager, alice))
    const served = await load(manager, mallory)
    expect(served.get('user')).to.equal(undefined)
    expect(manager.metrics.get('decryptFailures')).to.equal(1)
  })
})
