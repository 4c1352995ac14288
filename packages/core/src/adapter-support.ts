// What every framework adapter shares: its own options beyond the core's, the 503 body, and the
// guard refusals. The adapters only translate these into their framework's reply calls.
import type { TetherOptions } from './options.js'
import { optionError } from './validate.js'

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

/** The small JSON body of the 503 sent when the session store fails. */
export const STORE_UNAVAILABLE_BODY = JSON.stringify({
  error: 'session store unavailable',
  code: 'ERR_TETHER_STORE_UNAVAILABLE',
})

/** One refusal of a route guard: its status and body. */
export interface DenialOptions {
  /** HTTP status, 400 to 599. */
  status?: number
  /** A string is sent as text/plain; anything else as JSON. */
  body?: unknown
}

/** Options of the adapters' `requireSession()`. */
export interface RequireSessionOptions {
  /**
   * Answer when the request has no valid session (none, expired, destroyed, or a forged cookie).
   * @default { status: 401, body: { error: 'session required' } }
   */
  unauthenticated?: DenialOptions
  /**
   * Answer when the predicate does not return true.
   * @default { status: 403, body: { error: 'forbidden' } }
   */
  forbidden?: DenialOptions
}

/** A refusal ready to send. */
export interface Denial {
  readonly status: number
  readonly body: string
  readonly type: string
}

/**
 * Validates a guard's predicate and options once, when the guard is made; returns the two
 * refusals it sends. `predicateShape` describes the predicate in the adapter's words.
 */
export function resolveGuard(
  predicate: unknown,
  options: RequireSessionOptions,
  predicateShape: string,
): { unauthenticated: Denial; forbidden: Denial } {
  if (predicate !== undefined && typeof predicate !== 'function') {
    throw optionError('predicate', predicateShape, predicate)
  }
  if (typeof options !== 'object' || options === null) throw optionError('options', 'an object', options)
  return {
    unauthenticated: denial('unauthenticated', options.unauthenticated, 401, { error: 'session required' }),
    forbidden: denial('forbidden', options.forbidden, 403, { error: 'forbidden' }),
  }
}

function denial(name: string, given: DenialOptions | undefined, status: number, body: unknown): Denial {
  const o = given ?? {}
  if (typeof o !== 'object' || o === null) throw optionError(name, 'an object { status?, body? }', o)
  const code = o.status ?? status
  if (typeof code !== 'number' || !Number.isInteger(code) || code < 400 || code > 599) {
    throw optionError(`${name}.status`, 'an HTTP error status from 400 to 599', o.status)
  }
  const value = o.body === undefined ? body : o.body
  if (typeof value === 'string') return { status: code, body: value, type: 'text/plain; charset=utf-8' }
  const json = JSON.stringify(value)
  if (json === undefined) throw optionError(`${name}.body`, 'a string or a JSON-serialisable value', value)
  return { status: code, body: json, type: 'application/json; charset=utf-8' }
}
