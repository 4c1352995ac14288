import { isTetherError } from '../errors.js'

/** The small JSON body of the 503 sent when the session store fails. */
export const STORE_UNAVAILABLE_BODY = JSON.stringify({
  error: 'session store unavailable',
  code: 'ERR_TETHER_STORE_UNAVAILABLE',
})

const INTERNAL_ERROR_BODY = JSON.stringify({ error: 'internal server error' })
const JSON_TYPE = 'application/json; charset=utf-8'

/**
 * An answer an adapter sends instead of the app's response: status, headers and a small JSON
 * body. The framework adds Content-Length (and keeps `Connection: close` if it was set).
 */
export interface FailureReply {
  readonly status: 500 | 503
  readonly headers: readonly (readonly [name: string, value: string])[]
  readonly body: string
}

/**
 * The replies to a failed session, made once per adapter: a 503 with `Retry-After` when the store
 * is down (ERR_TETHER_STORE_UNAVAILABLE), so the client retries instead of seeing a 200 whose
 * write was lost; a 500 for anything else that fails a commit.
 */
export class FailureReplies {
  /** The 503: store unavailable, retry after `retryAfter` seconds, never cached. */
  readonly unavailable: FailureReply
  /** The 500 after a commit failed for another reason. */
  readonly internal: FailureReply

  /** `retryAfter`: seconds for the 503's Retry-After (see `AdapterOptions.retryAfter`). */
  constructor(retryAfter: number) {
    this.unavailable = {
      status: 503,
      headers: [
        ['Retry-After', String(retryAfter)],
        ['Cache-Control', 'no-store'],
        ['Content-Type', JSON_TYPE],
      ],
      body: STORE_UNAVAILABLE_BODY,
    }
    this.internal = { status: 500, headers: [['Content-Type', JSON_TYPE]], body: INTERNAL_ERROR_BODY }
  }

  /** The reply to a failed open: the 503, or undefined when the error is the framework's to handle. */
  afterOpen(error: unknown): FailureReply | undefined {
    return isStoreUnavailable(error) ? this.unavailable : undefined
  }

  /** The reply to a failed commit: the 503 when the store is down, else the 500. */
  afterCommit(error: unknown): FailureReply {
    return isStoreUnavailable(error) ? this.unavailable : this.internal
  }
}

function isStoreUnavailable(error: unknown): boolean {
  return isTetherError(error, 'ERR_TETHER_STORE_UNAVAILABLE')
}
