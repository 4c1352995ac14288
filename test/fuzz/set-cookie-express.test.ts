import { once } from 'node:events'
import { Agent, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { stickySession } from '@tether/express'
import express from 'express'
import fc from 'fast-check'
import { fuzzAsyncProperty } from './budget.js'
import { expectAppLinesThenTether, scriptedRequest } from './scripted-request.js'
import { ForgetfulStore, runScript, type Script, SlowForgetfulStore, script } from './set-cookie-app.js'

/*
 * The Express adapter adds its cookie to the response's head, beside the Set-Cookie headers the
 * app set itself. The same handler runs without Tether and with it (a store it commits to at
 * once, and one it has to wait for, which queues the response): with Tether the response must be
 * the same, with the same Set-Cookie lines in the same order, nothing merged, split or lost, and
 * Tether's own cookie after them, when the session changed.
 */

const TARGET = 'Set-Cookie'
const SECRET = 'fuzz-secret-0123456789-abcdefghijklmnop'

interface Answer {
  status: number
  setCookie: string[]
}

describe("fuzz: Set-Cookie, Tether's cookie beside the app's own (Express)", () => {
  const atOnce = stickySession({ secret: SECRET, store: new ForgetfulStore() })
  const waiting = stickySession({ secret: SECRET, store: new SlowForgetfulStore() })
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  let server: Server
  let port: number

  before(async () => {
    const app = express()
    app.set('env', 'test') // Express's error handler logs every 500 otherwise
    app.get('/plain', runScript)
    app.get('/at-once', atOnce, runScript)
    app.get('/waiting', waiting, runScript)
    server = app.listen(0, '127.0.0.1')
    await once(server, 'listening')
    port = (server.address() as AddressInfo).port
  })
  after(async () => {
    agent.destroy()
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
    await Promise.all([atOnce.close(), waiting.close()])
  })

  async function get(path: string, s: Script): Promise<Answer> {
    const { status, setCookie } = await scriptedRequest(port, agent, path, s)
    return { status, setCookie }
  }

  it("keeps the app's Set-Cookie lines as they are, in order, and adds Tether's after them", () =>
    fuzzAsyncProperty(TARGET, 0.2, script, fc.boolean(), async (s, wait) => {
      const plain = await get('/plain', s)
      const tether = await get(wait ? '/waiting' : '/at-once', s)
      // A handler that threw (a 500) may have done so before or after the commit.
      expectAppLinesThenTether(
        plain,
        tether,
        s.session,
        plain.status === 500,
        JSON.stringify({ plain, tether }),
      )
    }))
})
