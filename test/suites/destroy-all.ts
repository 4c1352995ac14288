// "Log out everywhere" through SessionManager#destroyAll, the same for every store that keeps a
// per-user index: MemoryStore here in test/core, RedisStore and HybridStore in test/redis.
import type { SessionManager } from '@tether/core'
import { expect } from 'chai'
import { SessionBrowser } from '../support/redis-session-client.js'

/** The owner option the managers of this suite are made with. */
export const OWNER = (session: { get(key: string): unknown }) => session.get('user') as string | undefined

/** A manager made with OWNER over the store under test, and how to release both. */
export interface DestroyAllSubject {
  readonly manager: SessionManager
  close(): Promise<void>
}

export function describeDestroyAll(name: string, makeSubject: () => Promise<DestroyAllSubject>): void {
  describe(`log out everywhere (destroyAll) on ${name}`, () => {
    let subject: DestroyAllSubject
    let manager: SessionManager
    beforeEach(async () => {
      subject = await makeSubject()
      manager = subject.manager
    })
    afterEach(() => subject.close())

    it("ends every session of one user, and only that user's", async () => {
      const user = `alice-${Math.random().toString(36).slice(2)}`
      const devices = [new SessionBrowser(manager), new SessionBrowser(manager), new SessionBrowser(manager)]
      for (const device of devices) await device.request((s) => s.set('user', user))
      const other = new SessionBrowser(manager)
      await other.request((s) => s.set('user', `bob-${user}`))
      expect(await manager.destroyAll(user)).to.equal(3)
      for (const device of devices) expect(await device.request((s) => s.keys())).to.deep.equal([])
      expect(await other.request((s) => s.get('user'))).to.equal(`bob-${user}`)
      // Nothing left to end.
      expect(await manager.destroyAll(user)).to.equal(0)
    })

    it('a slow request of a destroyed session does not bring it back', async () => {
      const user = `carol-${Math.random().toString(36).slice(2)}`
      const laptop = new SessionBrowser(manager)
      await laptop.request((s) => s.set('user', user))
      // Opened before the password change, committed after it.
      const slow = await manager.open(laptop.cookie)
      expect(slow.session.get('user')).to.equal(user)
      expect(await manager.destroyAll(user)).to.equal(1)
      // A request arriving meanwhile finds no session, though the slow one still holds it.
      const meanwhile = await manager.open(laptop.cookie)
      expect(meanwhile.session.isNew).to.equal(true)
      meanwhile.release()
      slow.session.set('late', 'write')
      await slow.commit(false)
      slow.release()
      expect(await laptop.request((s) => s.keys())).to.deep.equal([])
    })

    it('ties a session to the user the owner option names when it is written (login)', async () => {
      const user = `dave-${Math.random().toString(36).slice(2)}`
      const browser = new SessionBrowser(manager)
      await browser.request((s) => s.set('cart', ['apple']))
      expect(await manager.destroyAll(user)).to.equal(0)
      await browser.request(async (s) => {
        await s.regenerate()
        s.set('user', user)
      })
      expect(await manager.destroyAll(user)).to.equal(1)
      expect(await browser.request((s) => s.get('cart'))).to.equal(undefined)
    })

    it('refuses a user id that is not a non-empty string', async () => {
      for (const bad of ['', 42, undefined]) {
        let error: Error | undefined
        await manager.destroyAll(bad as string).catch((e: Error) => {
          error = e
        })
        expect(error?.message).to.match(/destroyAll\(\) needs a non-empty string user id/)
      }
    })
  })
}
