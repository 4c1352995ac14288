import { HybridStore } from '@tether/core'
import { expect } from 'chai'
import { Redis } from 'ioredis'
import { createClient } from 'redis'
import { type RedisServerHandle, redisCli, startRedisServer, uniquePrefix } from '../support/redis-server.js'
import { describeWith } from '../support/system-binaries.js'

// Before the cache is turned on (at start and after every reconnect), HybridStore publishes a
// probe and waits for it on its subscriber, for at most the store timeout. The chaos run found
// the case where the probe cannot be published (the main connection is still down while the
// subscriber is back): the wait's timeout then rejected with nobody listening, and an unhandled
// rejection ends a Node.js process. Here a Redis user may subscribe but not publish, so every
// probe fails the same way, deterministically.

const PROBE_TIMEOUT_MS = 200

describeWith('redis-server', 'HybridStore when its probe cannot be published', () => {
  let server: RedisServerHandle
  let unhandled: unknown[]
  const onUnhandled = (reason: unknown) => unhandled.push(reason)

  before(async function () {
    if (process.env.REDIS_URL) this.skip() // adds a user to a server of its own
    server = await startRedisServer()
    await redisCli(server, 'acl', 'setuser', 'nopublish', 'on', '>pw', '~*', '&*', '+@all', '-publish')
  })
  beforeEach(() => {
    unhandled = []
    // Mocha's own handler would fail the run; this one lets the test say what happened.
    process.prependListener('unhandledRejection', onUnhandled)
  })
  afterEach(() => {
    process.removeListener('unhandledRejection', onUnhandled)
  })
  after(async () => {
    await server?.stop()
  })

  const clients = {
    ioredis: async () => {
      const client = new Redis({
        host: server.host,
        port: server.port,
        username: 'nopublish',
        password: 'pw',
      })
      client.on('error', () => undefined)
      return { client, close: async () => client.disconnect() }
    },
    'node-redis': async () => {
      const client = createClient({ url: `redis://nopublish:pw@${server.host}:${server.port}` })
      client.on('error', () => undefined)
      await client.connect()
      return { client, close: async () => client.destroy() }
    },
  }

  for (const [name, connect] of Object.entries(clients)) {
    it(`stays uncached and keeps retrying, without an unhandled rejection (${name})`, async () => {
      const { client, close } = await connect()
      const store = new HybridStore({
        client: client as never,
        prefix: uniquePrefix('probe'),
        timeout: PROBE_TIMEOUT_MS,
        resyncInterval: 50,
      })
      try {
        // Several probes fail and time out meanwhile.
        await new Promise((resolve) => setTimeout(resolve, 4 * PROBE_TIMEOUT_MS))
        expect(unhandled.map(String)).to.deep.equal([])
        expect(store.caching).to.equal(false)
      } finally {
        await store.close()
        await close()
      }
    })
  }
})
