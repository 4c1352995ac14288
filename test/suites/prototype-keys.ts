// Session keys named like Object.prototype members, through a SessionManager on a given store:
//   describePrototypeKeys('MemoryStore', async () => new MemoryStore())
import { SessionManager, type SessionStore } from '@tether/core'
import { expect } from 'chai'
import { SessionBrowser } from '../support/redis-session-client.js'
import { PROTOTYPE_KEYS } from './store-contract.js'

const SECRET = 'prototype-keys-secret-0123456789abcdef'

export function describePrototypeKeys(name: string, makeStore: () => Promise<SessionStore>): void {
  describe(`${name}: session keys named like Object.prototype members`, () => {
    let store: SessionStore
    let browser: SessionBrowser

    beforeEach(async () => {
      store = await makeStore()
      browser = new SessionBrowser(new SessionManager({ secret: SECRET, store }))
    })

    afterEach(async () => {
      await store.close()
    })

    for (const key of PROTOTYPE_KEYS) {
      it(`stores "${key}" like any key, across requests, and never touches a prototype`, async () => {
        await browser.request((s) => {
          s.set('before', 1)
          s.set(key, { role: 'admin' })
          expect(s.get(key)).to.deep.equal({ role: 'admin' })
        })
        const read = await browser.request((s) => ({ keys: s.keys().sort(), value: s.get(key) }))
        expect(read).to.deep.equal({ keys: ['before', key].sort(), value: { role: 'admin' } })
        await browser.request((s) => expect(s.delete(key)).to.equal(true))
        expect(await browser.request((s) => s.keys())).to.deep.equal(['before'])
        expect(({} as Record<string, unknown>).role).to.equal(undefined)
        expect(Object.getPrototypeOf({})).to.equal(Object.prototype)
      })
    }
  })
}
