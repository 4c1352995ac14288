import { optionError, type TetherOptions } from '@tether/core'

/** Options of `stickySession()`: the core's {@link TetherOptions} plus how Express answers failures. */
export interface StickySessionOptions extends TetherOptions {
  /**
   * Seconds sent in `Retry-After` with the 503 that answers a request whose session store failed
   * (on load or on commit). Short enough that a client retries once Redis is back, long enough
   * not to hammer it while it is down.
   * @default 5
   */
  retryAfter?: number
}

/** The adapter's own settings, validated once. */
export interface ResolvedAdapterOptions {
  readonly retryAfter: number
}

const DEFAULTS = {
  retryAfter: 5,
}

/** Validates the adapter options (the core validates the rest); throws a TypeError naming the option. */
export function resolveAdapterOptions(options: StickySessionOptions): ResolvedAdapterOptions {
  if (typeof options !== 'object' || options === null) throw optionError('options', 'an object', options)
  const retryAfter = options.retryAfter ?? DEFAULTS.retryAfter
  if (typeof retryAfter !== 'number' || !Number.isInteger(retryAfter) || retryAfter < 0) {
    throw optionError('retryAfter', 'a whole number of seconds, 0 or more', options.retryAfter)
  }
  return { retryAfter }
}

/** The small JSON body of the 503 sent when the session store fails. */
export const STORE_UNAVAILABLE_BODY = JSON.stringify({
  error: 'session store unavailable',
  code: 'ERR_TETHER_STORE_UNAVAILABLE',
})
