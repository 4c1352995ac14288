// The one contract every SessionStore must honour, run against each store by its own test file:
//   describeStoreContract('MemoryStore', async () => new MemoryStore())
import type { SessionStore, SessionWrite } from '@tether/core'
import { expect } from 'chai'

export function writeOf(overrides: Partial<SessionWrite> = {}): SessionWrite {
  const now = Date.now()
  return {
    set: {},
    unset: [],
    createdAt: now,
    touchedAt: now,
    expiresAt: now + 60_000,
    established: false,
    create: true,
    ...overrides,
  }
}

/** Keys that a plain object would turn into prototype changes or inherited look-ups. */
export const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString'] as const

/** A fields record with exactly these own keys, whatever their names (`{ __proto__: x }` would not). */
export function fieldsOf(entries: [string, string][]): Record<string, string> {
  const fields: Record<string, string> = Object.create(null)
  for (const [key, value] of entries)
    Object.defineProperty(fields, key, { value, enumerable: true, writable: true, configurable: true })
  return fields
}

function sortedEntries(entries: [string, string][]): [string, string][] {
  return entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
}

/** A record's own entries, sorted by key (prototype-named keys included). */
export function entriesOf(fields: Record<string, string> | undefined): [string, string][] {
  if (fields === undefined) return []
  return Object.keys(fields)
    .sort()
    .map((key) => [key, Object.getOwnPropertyDescriptor(fields, key)?.value as string])
}

let counter = 0
/** A store id shaped like the core's (base64url SHA-256), unique per call. */
export function newStoreId(): string {
  counter++
  return Buffer.from(`contract-${process.pid}-${counter}-${Math.random()}`).toString('base64url').slice(0, 43)
}

export function describeStoreContract(name: string, makeStore: () => Promise<SessionStore>): void {
  describe(`${name} honours the SessionStore contract`, () => {
    let store: SessionStore

    beforeEach(async () => {
      store = await makeStore()
    })

    afterEach(async () => {
      await store.close()
    })

    it('returns undefined for an unknown id', async () => {
      expect(await store.get(newStoreId())).to.equal(undefined)
    })

    it('creates a session and reads back its fields and times', async () => {
      const id = newStoreId()
      const write = writeOf({ set: { a: '1', b: '"x"' }, established: true })
      expect(await store.write(id, write)).to.equal(true)
      const stored = await store.get(id)
      expect(stored).to.deep.equal({
        fields: { a: '1', b: '"x"' },
        createdAt: write.createdAt,
        touchedAt: write.touchedAt,
        established: true,
      })
    })

    it('writes only the changed fields and removes unset ones', async () => {
      const id = newStoreId()
      await store.write(id, writeOf({ set: { a: '1', b: '2', c: '3' } }))
      await store.write(id, writeOf({ set: { b: '20' }, unset: ['c'], create: false }))
      expect((await store.get(id))?.fields).to.deep.equal({ a: '1', b: '20' })
    })

    it('keeps both of two parallel writes of different keys', async () => {
      const id = newStoreId()
      await store.write(id, writeOf({ set: { base: '0' } }))
      await Promise.all([
        store.write(id, writeOf({ set: { left: '1' }, create: false })),
        store.write(id, writeOf({ set: { right: '2' }, create: false })),
      ])
      expect((await store.get(id))?.fields).to.deep.equal({ base: '0', left: '1', right: '2' })
    })

    it('does not recreate a destroyed session on a write without create', async () => {
      const id = newStoreId()
      await store.write(id, writeOf({ set: { a: '1' } }))
      await store.destroy(id)
      expect(await store.write(id, writeOf({ set: { a: '2' }, create: false }))).to.equal(false)
      expect(await store.get(id)).to.equal(undefined)
    })

    it('touch updates the activity time of an existing session only', async () => {
      const id = newStoreId()
      const write = writeOf({ set: { a: '1' } })
      await store.write(id, write)
      const later = write.touchedAt + 5_000
      expect(await store.touch(id, later, later + 60_000)).to.equal(true)
      const stored = await store.get(id)
      expect(stored?.touchedAt).to.equal(later)
      expect(stored?.fields).to.deep.equal({ a: '1' })
      expect(await store.touch(newStoreId(), later, later + 60_000)).to.equal(false)
    })

    it('keeps createdAt from the first write', async () => {
      const id = newStoreId()
      const first = writeOf({ set: { a: '1' } })
      await store.write(id, first)
      await store.write(id, writeOf({ set: { a: '2' }, createdAt: first.createdAt + 999, create: false }))
      expect((await store.get(id))?.createdAt).to.equal(first.createdAt)
    })

    it('forgets a session once its expiry has passed', async () => {
      const id = newStoreId()
      const now = Date.now()
      await store.write(id, writeOf({ set: { a: '1' }, expiresAt: now + 150 }))
      expect(await store.get(id)).to.not.equal(undefined)
      await new Promise((resolve) => setTimeout(resolve, 400))
      expect(await store.get(id)).to.equal(undefined)
    })

    describe('seals (encryption at rest)', () => {
      it("replaces the record's seal with each write's and keeps it on a touch", async () => {
        const id = newStoreId()
        const first = writeOf({ set: { a: '1' }, seal: 'seal-1' })
        await store.write(id, first)
        expect((await store.get(id))?.seal).to.equal('seal-1')
        await store.write(
          id,
          writeOf({ set: { b: '2' }, create: false, seal: 'seal-2', sealBefore: 'seal-1' }),
        )
        expect((await store.get(id))?.seal).to.equal('seal-2')
        expect(await store.touch(id, first.touchedAt + 1, first.expiresAt + 1)).to.equal(true)
        expect((await store.get(id))?.seal).to.equal('seal-2')
      })

      it("refuses a write made from another seal than the record's and returns the record", async () => {
        const id = newStoreId()
        await store.write(id, writeOf({ set: { a: '1' }, seal: 'seal-1' }))
        await store.write(
          id,
          writeOf({ set: { a: '2' }, create: false, seal: 'seal-2', sealBefore: 'seal-1' }),
        )
        // A writer that read the record at seal-1, after another one moved it on.
        const late = writeOf({
          set: { b: 'late' },
          unset: ['a'],
          create: false,
          seal: 'seal-x',
          sealBefore: 'seal-1',
        })
        const reply = await store.write(id, late)
        expect(reply).to.be.an('object')
        const current = (reply as Exclude<typeof reply, boolean>).conflict
        expect(entriesOf(current.fields)).to.deep.equal([['a', '2']])
        expect(current.seal).to.equal('seal-2')
        expect(entriesOf((await store.get(id))?.fields)).to.deep.equal([['a', '2']])
        expect((await store.get(id))?.seal).to.equal('seal-2')
      })

      it('refuses a create that finds a sealed record (a retried create) the same way', async () => {
        const id = newStoreId()
        await store.write(id, writeOf({ set: { a: '1' }, seal: 'seal-1' }))
        const reply = await store.write(id, writeOf({ set: { a: '1', b: '2' }, seal: 'seal-again' }))
        expect((reply as Exclude<typeof reply, boolean>).conflict.seal).to.equal('seal-1')
        expect((await store.get(id))?.seal).to.equal('seal-1')
      })

      it('of two parallel writes made from one seal, lands exactly one', async () => {
        const id = newStoreId()
        await store.write(id, writeOf({ set: { base: '0' }, seal: 'seal-1' }))
        const replies = await Promise.all(
          ['left', 'right'].map((key) =>
            store.write(
              id,
              writeOf({ set: { [key]: '1' }, create: false, seal: `seal-${key}`, sealBefore: 'seal-1' }),
            ),
          ),
        )
        expect(replies.filter((reply) => reply === true)).to.have.length(1)
        const stored = await store.get(id)
        expect(stored?.seal).to.be.oneOf(['seal-left', 'seal-right'])
        expect(Object.keys(stored!.fields)).to.have.length(2)
      })
    })

    it('destroy of an unknown id is not an error', async () => {
      await store.destroy(newStoreId())
    })

    describe('keys named like Object.prototype members', () => {
      for (const key of PROTOTYPE_KEYS) {
        it(`stores, reads back and unsets "${key}" like any key`, async () => {
          const id = newStoreId()
          await store.write(
            id,
            writeOf({
              set: fieldsOf([
                [key, '{"role":"admin"}'],
                ['a', '1'],
              ]),
            }),
          )
          expect(entriesOf((await store.get(id))?.fields)).to.deep.equal(
            sortedEntries([
              ['a', '1'],
              [key, '{"role":"admin"}'],
            ]),
          )
          await store.write(id, writeOf({ set: fieldsOf([['b', '2']]), create: false }))
          expect(entriesOf((await store.get(id))?.fields).map(([k]) => k)).to.deep.equal(
            ['a', 'b', key].sort(),
          )
          await store.write(id, writeOf({ unset: [key], create: false }))
          expect(entriesOf((await store.get(id))?.fields)).to.deep.equal([
            ['a', '1'],
            ['b', '2'],
          ])
          expect(({} as Record<string, unknown>).role).to.equal(undefined)
        })
      }
    })

    it('keeps values with any characters intact', async () => {
      const id = newStoreId()
      const tricky = JSON.stringify('quote " backslash \\ newline \n unicode \u2603 nul \u0000 emoji 🎉')
      await store.write(id, writeOf({ set: { 'key with spaces:and:colons': tricky } }))
      expect((await store.get(id))?.fields).to.deep.equal({ 'key with spaces:and:colons': tricky })
    })
  })
}
