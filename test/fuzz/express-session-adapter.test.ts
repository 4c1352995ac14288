import { expect } from 'chai'
import session from 'express-session'
import fc from 'fast-check'
import {
  fromExpressSessionStore,
  toExpressSessionStore,
} from '../../packages/core/src/stores/express-session-adapter.js'
import { MemoryStore } from '../../packages/core/src/stores/memory.js'
import { fuzzAsyncProperty } from './budget.js'

const TARGET = 'express-session adapter'

type Store = {
  get(sid: string, cb: (e: unknown, v?: unknown) => void): unknown
  set(sid: string, s: unknown, cb: (e: unknown) => void): unknown
}
const call = <T>(fn: (cb: (e: unknown, v?: T) => void) => unknown) =>
  new Promise<{ error: unknown; value: T | undefined }>((resolve) => {
    fn((error, value) => resolve({ error, value }))
  })

const future = () => new Date(Date.now() + 3_600_000).toISOString()
const key = fc.oneof(fc.string(), fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty'))
const odd = fc.oneof(
  fc.jsonValue(),
  fc.constant(undefined),
  fc.func(fc.jsonValue()),
  fc.date({ noInvalidDate: true }),
)

describe('fuzz: express-session adapter', () => {
  it('reads back what express-session saved, as JSON would, whatever the keys and values', () =>
    fuzzAsyncProperty(
      TARGET,
      0.5,
      fc.string(),
      fc.dictionary(key, odd, { maxKeys: 6 }),
      async (sid, data) => {
        const memory = new MemoryStore()
        const store = toExpressSessionStore(memory, session) as Store
        const saved = { ...data, cookie: { expires: future(), originalMaxAge: 3_600_000 } }
        expect((await call((cb) => store.set(sid, saved, cb))).error).to.equal(null)
        const { error, value } = await call((cb) => store.get(sid, cb))
        expect(error).to.equal(null)
        expect(value).to.deep.equal(JSON.parse(JSON.stringify(saved)))
        await memory.close() // its sweep timer would keep every case's store alive
      },
    ))

  it('reads anything a backing store returns as a session or none, never as a failure', () =>
    fuzzAsyncProperty(
      TARGET,
      0.5,
      fc.oneof(
        fc.anything(),
        fc.string({ unit: 'binary' }),
        fc.jsonValue().map((v) => JSON.stringify(v)),
      ),
      async (stored) => {
        const backing = {
          get: (_: string, cb: (e: unknown, v?: unknown) => void) => cb(null, stored),
          set: () => {},
          destroy: () => {},
        }
        const got = await fromExpressSessionStore(backing).get('id')
        expect(got === undefined || typeof got === 'object').to.equal(true)
      },
    ))
})
