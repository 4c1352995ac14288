import type { TetherOptions } from '../options.js'
import { optionError } from '../validate.js'

/** Options every adapter takes: the core's {@link TetherOptions} plus how it answers failures. */
export interface AdapterOptions extends TetherOptions {
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

const DEFAULT_RETRY_AFTER = 5

/** Validates the adapter options (the core validates the rest); throws a TypeError naming the option. */
export function resolveAdapterOptions(options: AdapterOptions): ResolvedAdapterOptions {
  if (typeof options !== 'object' || options === null) throw optionError('options', 'an object', options)
  const retryAfter = options.retryAfter ?? DEFAULT_RETRY_AFTER
  if (typeof retryAfter !== 'number' || !Number.isInteger(retryAfter) || retryAfter < 0) {
    throw optionError('retryAfter', 'a whole number of seconds, 0 or more', options.retryAfter)
  }
  return { retryAfter }
}
