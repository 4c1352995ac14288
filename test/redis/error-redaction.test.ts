import { inspect } from 'node:util'
import { isTetherError, RedisStore, SessionManager } from '@tether/core'
import { expect } from 'chai'
import { ioredisClient, nodeRedisClient, type TestClient } from '../support/redis-clients.js'
import { type RedisServerHandle, redisCli, startRedisServer, uniquePrefix } from '../support/redis-server.js'
import { describeWith } from '../support/system-binaries.js'

// A store error reaches the app as the cause of a TetherError, and apps log errors with their
// causes. ioredis decorates its errors with the failed command's arguments: the session's key and
// every value written. None of it may show when the error is printed.

const SECRET = 'error-redaction-test-secret-0123456789abcdef'

describeWith('redis-server', 'store errors keep session data out of what they print', () => {
  let server: RedisServerHandle
  before(async function () {
    if (process.env.REDIS_URL) this.skip() // fills the memory of a server of its own
    server = await startRedisServer()
  })
  afterEach(async () => {
    await redisCli(server, 'config', 'set', 'maxmemory', '0')
  })
  after(async () => {
    await server?.stop()
  })

  for (const connect of [ioredisClient, nodeRedisClient]) {
    it(`a failed write (${connect.name}): no store key, value or user id in the printed error`, async () => {
      const c: TestClient = await connect(server)
      try {
        const store = new RedisStore({ client: c.client as never, prefix: uniquePrefix('redact') })
        // Encryption off and an owner index: the arguments of a write hold plain values and the user.
        const manager = new SessionManager({
          secret: SECRET,
          store,
          encrypt: false,
          owner: (session) => session.get('user') as string | undefined,
        })
        const ctx = await manager.open(undefined)
        ctx.session.set('user', 'user-4711')
        const cookie = (await ctx.commit(false))!.split(';')[0]!
        ctx.release()
        const token = cookie.split('=')[1]!.split('.')[0]!
        const [key] = await store.ids()

        // No memory left for writes: Redis answers the write script with an OOM error.
        await redisCli(server, 'config', 'set', 'maxmemory', '1')
        const again = await manager.open(cookie)
        again.session.set('card', 'card-number-4111')
        const error = await again.commit(false).then(
          () => undefined,
          (e: unknown) => e,
        )
        again.release()

        expect(isTetherError(error, 'ERR_TETHER_STORE_UNAVAILABLE'), String(error)).to.equal(true)
        const printed = `${inspect(error, { depth: 10 })} ${JSON.stringify(error)} ${String(error)}`
        expect(printed).to.include('OOM')
        for (const secret of [key!, token, 'card-number-4111', 'user-4711']) {
          expect(printed, 'what a logger would write').to.not.include(secret)
        }
      } finally {
        await c.close()
      }
    })
  }
})

describe('redactedError', () => {
  it("drops the arguments of ioredis Cluster's wrapped node error and of a chained cause", async () => {
    const { redactedError } = await import('../../packages/core/src/stores/redacted-error.js')
    const nodeError = Object.assign(new Error('MOVED'), { command: { name: 'EVALSHA', args: ['k{id}'] } })
    const inner = Object.assign(new Error('aborted'), { command: { name: 'HGETALL', args: ['k{id2}'] } })
    const wrapped = Object.assign(new Error('all nodes failed', { cause: inner }), {
      lastNodeError: nodeError,
    })
    expect(redactedError(wrapped)).to.equal(wrapped)
    expect(inspect(wrapped, { depth: 10 })).to.not.match(/k\{id/)
    expect(nodeError.command).to.deep.equal({ name: 'EVALSHA' })
    expect(redactedError('text')).to.equal('text')
  })
})
