import { optionError } from '../validate.js'

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
