import { Agent } from 'node:http'
import type { AddressInfo } from 'node:net'
import tether from '@tether/fastify'
import fc from 'fast-check'
import Fastify, { type FastifyInstance } from 'fastify'
import { fuzzAsyncProperty } from './budget.js'
import { expectAppLinesThenTether, scriptedRequest } from './scripted-request.js'
import { ForgetfulStore, SlowForgetfulStore } from './set-cookie-app.js'
import { type FastifyScript, fastifyScript, runFastifyScript } from './set-cookie-fastify-app.js'

/*
 * The Fastify plugin adds its cookie to the reply in onSend, beside the Set-Cookie headers the
 * app set itself. The same handler runs without Tether and with it (a store it commits to at
 * once, and one it has to wait for): with Tether the answer must be the same, with the same
 * Set-Cookie lines in the same order, nothing merged, split or lost, and Tether's own cookie after
 * them when the session changed.
 */

const TARGET = 'Set-Cookie (Fastify)'
const SECRET = 'fuzz-secret-0123456789-abcdefghijklmnop'

interface Answer {
  status: number
  setCookie: string[]
  /** The reply's own headers went out (Fastify drops them when Node refuses one of them). */
  replyHeaders: boolean
}

describe("fuzz: Set-Cookie, Tether's cookie beside the app's own (Fastify)", () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  let app: FastifyInstance
  let port: number

  before(async () => {
    app = Fastify()
    app.get('/plain', runFastifyScript)
    // fastify-plugin makes the plugin apply to the context that registers it: one context per store.
    await app.register(async (scope) => {
      await scope.register(tether, { secret: SECRET, store: new ForgetfulStore() })
      scope.get('/at-once', runFastifyScript)
    })
    await app.register(async (scope) => {
      await scope.register(tether, { secret: SECRET, store: new SlowForgetfulStore() })
      scope.get('/waiting', runFastifyScript)
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    port = (app.server.address() as AddressInfo).port
  })
  after(async () => {
    agent.destroy()
    await app.close()
  })

  async function get(path: string, s: FastifyScript): Promise<Answer> {
    const answer = await scriptedRequest(port, agent, path, s)
    return {
      status: answer.status,
      setCookie: answer.setCookie,
      replyHeaders: answer.headers['x-app'] === '1',
    }
  }

  it("keeps the app's Set-Cookie lines as they are, in order, and adds Tether's after them", () =>
    fuzzAsyncProperty(TARGET, 0.2, fastifyScript, fc.boolean(), async (s, wait) => {
      const plain = await get('/plain', s)
      const tether = await get(wait ? '/waiting' : '/at-once', s)
      // An answer that failed may have done so before or after the commit; one whose header Node
      // refused goes out without the reply's headers, Tether's cookie among them.
      const mayMiss = plain.status >= 500 || !plain.replyHeaders
      expectAppLinesThenTether(
        plain,
        tether,
        s.session,
        mayMiss,
        JSON.stringify({ script: s, plain, tether }),
      )
    }))
})
