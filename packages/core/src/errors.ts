/** Stable codes for the errors that callers of Tether are expected to handle. */
export type TetherErrorCode =
  /** The session store failed (network, timeout, server error); the request should get a 503. */
  | 'ERR_TETHER_STORE_UNAVAILABLE'
  /** A session was used after `destroy()` or after it was replaced by `regenerate()`. */
  | 'ERR_TETHER_SESSION_ENDED'
  /** A value given to `session.set()` cannot be stored (not JSON-serialisable). */
  | 'ERR_TETHER_VALUE_NOT_SERIALIZABLE'
  /** The session was committed after its response had already been sent. */
  | 'ERR_TETHER_ALREADY_COMMITTED'

/**
 * The one error class Tether throws at callers, with a stable `code` and the underlying `cause`.
 * Network input never produces one: a bad cookie simply means a fresh session.
 */
export class TetherError extends Error {
  readonly code: TetherErrorCode

  constructor(code: TetherErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'TetherError'
    this.code = code
  }
}

/** True when `error` is a TetherError with the given code. */
export function isTetherError(error: unknown, code?: TetherErrorCode): error is TetherError {
  return error instanceof TetherError && (code === undefined || error.code === code)
}

/** Wraps whatever a store threw, so adapters can answer 503 for any store failure. */
export function storeUnavailable(cause: unknown): TetherError {
  const detail = cause instanceof Error ? cause.message : String(cause)
  return new TetherError('ERR_TETHER_STORE_UNAVAILABLE', `session store unavailable: ${detail}`, { cause })
}
