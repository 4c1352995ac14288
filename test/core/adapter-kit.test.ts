import { TetherError } from '@tether/core'
import {
  FailureReplies,
  resolveAdapterOptions,
  resolveGuard,
  STORE_UNAVAILABLE_BODY,
} from '@tether/core/adapter'
import { expect } from 'chai'

const SHAPE = 'a function (session, req) => boolean'

describe('adapter support shared by @tether/express and @tether/fastify', () => {
  it('validates retryAfter by name and defaults it to 5 seconds', () => {
    expect(resolveAdapterOptions({ secret: 'x'.repeat(32) })).to.deep.equal({ retryAfter: 5 })
    expect(resolveAdapterOptions({ secret: 'x'.repeat(32), retryAfter: 0 })).to.deep.equal({ retryAfter: 0 })
    expect(() => resolveAdapterOptions({ secret: 'x'.repeat(32), retryAfter: 1.5 })).to.throw(
      TypeError,
      /^retryAfter must be/,
    )
    expect(() => resolveAdapterOptions(null as never)).to.throw(TypeError, /^options must be an object/)
  })

  it('has a small JSON 503 body with the stable code', () => {
    expect(JSON.parse(STORE_UNAVAILABLE_BODY)).to.deep.equal({
      error: 'session store unavailable',
      code: 'ERR_TETHER_STORE_UNAVAILABLE',
    })
  })

  it('answers a store failure with a 503 that says when to retry, anything else a commit hits with a 500', () => {
    const replies = new FailureReplies(7)
    const down = new TetherError('ERR_TETHER_STORE_UNAVAILABLE', 'down')
    expect(replies.afterOpen(down)).to.equal(replies.unavailable)
    expect(replies.afterCommit(down)).to.equal(replies.unavailable)
    expect(replies.unavailable.status).to.equal(503)
    expect(replies.unavailable.body).to.equal(STORE_UNAVAILABLE_BODY)
    expect(replies.unavailable.headers).to.deep.include.members([
      ['Retry-After', '7'],
      ['Cache-Control', 'no-store'],
      ['Content-Type', 'application/json; charset=utf-8'],
    ])
    expect(replies.afterOpen(new Error('bug'))).to.equal(undefined)
    expect(replies.afterCommit(new Error('bug'))).to.include({ status: 500 })
    expect(JSON.parse(replies.internal.body)).to.deep.equal({ error: 'internal server error' })
  })

  it('gives guards 401/403 JSON refusals by default, configurable', () => {
    const defaults = resolveGuard(undefined, {}, SHAPE)
    expect(defaults.unauthenticated).to.deep.equal({
      status: 401,
      body: '{"error":"session required"}',
      type: 'application/json; charset=utf-8',
    })
    expect(defaults.forbidden.status).to.equal(403)
    const custom = resolveGuard(() => true, { unauthenticated: { status: 404, body: 'nothing here' } }, SHAPE)
    expect(custom.unauthenticated).to.deep.equal({
      status: 404,
      body: 'nothing here',
      type: 'text/plain; charset=utf-8',
    })
  })

  it('rejects bad guard settings when the guard is made, naming them', () => {
    expect(() => resolveGuard('admin', {}, SHAPE)).to.throw(TypeError, /^predicate must be a function/)
    expect(() => resolveGuard(undefined, null as never, SHAPE)).to.throw(
      TypeError,
      /^options must be an object/,
    )
    expect(() => resolveGuard(undefined, { forbidden: { status: 200 } }, SHAPE)).to.throw(
      TypeError,
      /^forbidden\.status/,
    )
    expect(() => resolveGuard(undefined, { forbidden: 'no' as never }, SHAPE)).to.throw(
      TypeError,
      /^forbidden must be/,
    )
    expect(() => resolveGuard(undefined, { unauthenticated: { body: () => 1 } }, SHAPE)).to.throw(
      TypeError,
      /^unauthenticated\.body/,
    )
  })
})
