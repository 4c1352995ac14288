import { MemoryStore, SessionManager, type StoredSession } from '@tether/core'
import { expect } from 'chai'
import { PlaintextMemo } from '../../packages/core/src/plaintext-memo.js'
import { storeIdOfCookie } from '../support/session-cookie.js'

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

  override async write(
    id: string,
    change: Parameters<MemoryStore['write']>[1],
  ): ReturnType<MemoryStore['write']> {
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

  it('keeps what one request changed but did not store out of the next load', async () => {
    const store = new FrozenRecordStore()
    const manager = new SessionManager({ secret: SECRET, store, encrypt: true })
    const cookie = await newSession(manager, { cart: ['apple'], user: { id: 7 } })
    await load(manager, cookie) // the memo now holds this record's texts
    const changing = await manager.open(cookie)
    changing.session.set('cart', ['pear'])
    changing.session.delete('user')
    changing.release() // never committed
    const next = await load(manager, cookie)
    expect(next.get('cart')).to.deep.equal(['apple'])
    expect(next.get('user')).to.deep.equal({ id: 7 })
    expect(changing.session.get('cart')).to.deep.equal(['pear'])
  })

  it("refuses one session's record served under another id, even after decrypting it once", async () => {
    const store = new FrozenRecordStore()
    const manager = new SessionManager({ secret: SECRET, store, encrypt: true })
    const alice = await newSession(manager, { user: 'alice' })
    const mallory = await newSession(manager, { user: 'mallory' })
    expect((await load(manager, alice)).get('user')).to.equal('alice')
    store.aliases.set(storeIdOfCookie(mallory), storeIdOfCookie(alice))
    const served = await load(manager, mallory)
    expect(served.get('user')).to.equal(undefined)
    expect(manager.metrics.get('decryptFailures')).to.equal(1)
  })
})

describe('PlaintextMemo: a decrypted text is reused only for the envelope it came from', () => {
  /** An `open` that decodes "sealed:<json>" and counts its calls; anything else is untrustworthy. */
  function counting() {
    const calls: string[] = []
    const open = (_storeId: string, field: string, stored: unknown) => {
      calls.push(field)
      return typeof stored === 'string' && stored.startsWith('sealed:') ? stored.slice(7) : undefined
    }
    return { calls, open }
  }
  const record = (fields: Record<string, string>): StoredSession => ({
    fields,
    createdAt: 1,
    touchedAt: 1,
    established: false,
  })
  const texts = (map: ReadonlyMap<string, string> | undefined) =>
    map === undefined ? undefined : Object.fromEntries(map)

  it('decrypts each envelope once while it stays the same', () => {
    const memo = new PlaintextMemo(1024 * 1024)
    const { calls, open } = counting()
    for (let i = 0; i < 3; i++) {
      const got = memo.textsOf('s1', record({ a: 'sealed:1', b: 'sealed:"x"' }), open)
      expect(texts(got)).to.deep.equal({ a: '1', b: '"x"' })
    }
    expect(calls).to.deep.equal(['a', 'b'])
  })

  it('decrypts again exactly the fields whose envelope changed, appeared or went', () => {
    const memo = new PlaintextMemo(1024 * 1024)
    const { calls, open } = counting()
    memo.textsOf('s1', record({ a: 'sealed:1', b: 'sealed:2' }), open)
    expect(texts(memo.textsOf('s1', record({ a: 'sealed:1', b: 'sealed:3' }), open))).to.deep.equal({
      a: '1',
      b: '3',
    })
    expect(
      texts(memo.textsOf('s1', record({ a: 'sealed:1', b: 'sealed:3', c: 'sealed:4' }), open)),
    ).to.deep.equal({ a: '1', b: '3', c: '4' })
    expect(texts(memo.textsOf('s1', record({ c: 'sealed:4' }), open))).to.deep.equal({ c: '4' })
    expect(calls).to.deep.equal(['a', 'b', 'b', 'c'])
  })

  it("decrypts only the changed envelopes of a new frozen record (a HybridStore's copy after a write)", () => {
    const memo = new PlaintextMemo(1024 * 1024)
    const { calls, open } = counting()
    const frozen = (fields: Record<string, string>) =>
      Object.freeze({ ...record(Object.freeze({ ...fields })) }) as StoredSession
    const before = frozen({ a: 'sealed:1', b: 'sealed:2' })
    memo.textsOf('s1', before, open)
    memo.textsOf('s1', before, open)
    const after = frozen({ a: 'sealed:1', b: 'sealed:3' })
    expect(texts(memo.textsOf('s1', after, open))).to.deep.equal({ a: '1', b: '3' })
    expect(texts(memo.textsOf('s1', after, open))).to.deep.equal({ a: '1', b: '3' })
    expect(texts(memo.textsOf('s1', before, open))).to.deep.equal({ a: '1', b: '2' })
    expect(calls).to.deep.equal(['a', 'b', 'b'])
  })

  it('keeps sessions apart: the same envelope under another store id is decrypted for that id', () => {
    const memo = new PlaintextMemo(1024 * 1024)
    const seen: string[] = []
    const open = (storeId: string, _field: string, stored: unknown) => {
      seen.push(storeId)
      return storeId === 's1' ? String(stored) : undefined
    }
    expect(texts(memo.textsOf('s1', record({ a: 'e' }), open))).to.deep.equal({ a: 'e' })
    expect(memo.textsOf('s2', record({ a: 'e' }), open)).to.equal(undefined)
    expect(seen).to.deep.equal(['s1', 's2'])
  })

  it('gives nothing for a record with an untrustworthy field, and remembers none of it', () => {
    const memo = new PlaintextMemo(1024 * 1024)
    const { calls, open } = counting()
    expect(memo.textsOf('s1', record({ a: 'sealed:1', b: 'tampered' }), open)).to.equal(undefined)
    expect(memo.textsOf('s1', record({ a: 'sealed:1', b: 'tampered' }), open)).to.equal(undefined)
    expect(calls).to.deep.equal(['a', 'b', 'a', 'b'])
  })

  it('forgets a session on request, and keeps no more text than its byte budget', () => {
    const { calls, open } = counting()
    const memo = new PlaintextMemo(1024 * 1024)
    memo.textsOf('s1', record({ a: 'sealed:1' }), open)
    memo.forget('s1')
    memo.textsOf('s1', record({ a: 'sealed:1' }), open)
    expect(calls).to.have.length(2)

    // Room for one session of about 1 KB: reading two in turn decrypts every time.
    const small = new PlaintextMemo(1500)
    const big = `sealed:"${'z'.repeat(400)}"`
    calls.length = 0
    for (let i = 0; i < 3; i++) {
      small.textsOf('s1', record({ a: big }), open)
      small.textsOf('s2', record({ a: big }), open)
    }
    expect(calls).to.have.length(6)

    const off = new PlaintextMemo(0)
    calls.length = 0
    off.textsOf('s1', record({ a: 'sealed:1' }), open)
    off.textsOf('s1', record({ a: 'sealed:1' }), open)
    expect(calls).to.have.length(2)
  })

  it('is sized by the decryptedCacheBytes option, checked at start-up', () => {
    for (const bad of [-1, 1.5, '8mb', Number.NaN]) {
      expect(() => new SessionManager({ secret: SECRET, decryptedCacheBytes: bad as never })).to.throw(
        TypeError,
        /^decryptedCacheBytes must be a whole number of bytes/,
      )
    }
    expect(() => new SessionManager({ secret: SECRET, decryptedCacheBytes: 0 })).to.not.throw()
  })
})
