import {
  type CookieOptions,
  type ResolvedCookieOptions,
  resolveCookieOptions,
} from './cookie/cookie-header.js'
import { Keyring, type Secret } from './crypto/keyring.js'
import { Metrics } from './metrics.js'
import { resolveRoute } from './route.js'
import type { Session } from './session.js'
import { MemoryStore } from './stores/memory.js'
import type { SessionStore } from './stores/store.js'
import { isStore, synchronousForms } from './stores/store-shape.js'
import {
  boolean,
  byteCount,
  type EveryOptionNamed,
  fraction,
  optionError,
  positiveNumber,
  rejectUnknownOptions,
  warnOnce,
} from './validate.js'

/** Options shared by every Tether adapter. */
export interface TetherOptions {
  /**
   * Secret(s) of at least 32 characters. An array rotates keys: the first signs and encrypts,
   * all of them verify and decrypt; a cookie signed by an older one is re-issued under the first.
   */
  secret: Secret | readonly Secret[]
  /** Where sessions live. @default new MemoryStore() */
  store?: SessionStore
  cookie?: CookieOptions
  /**
   * Sliding idle timeout in ms: a session not used for this long is gone.
   * @default 1_800_000 (30 minutes)
   */
  idleTimeout?: number
  /**
   * Absolute timeout in ms from creation (or from the last `regenerate()`), however active.
   * @default 43_200_000 (12 hours)
   */
  absoluteTimeout?: number
  /**
   * Share of the idle window that must pass before an unchanged session is written again just to
   * record activity. With 0.1 and 30 minutes, a session read on every request costs at most one
   * touch write per 3 minutes. The guarantee: a session stays valid for at least
   * `idleTimeout × (1 − touchAfter)` after any request, and at most `idleTimeout` after the last
   * recorded activity. 0 touches on every request.
   * @default 0.1
   */
  touchAfter?: number
  /**
   * AES-256-GCM encryption of session data at rest.
   * @default true when the store keeps data outside this process (Redis), false for MemoryStore
   */
  encrypt?: boolean
  /**
   * With encryption on: bytes of decrypted session text (and the envelopes it came from) kept in
   * this process, so that a field read again unchanged is not decrypted again. A value is reused
   * only for the very envelope it was decrypted from, so this never serves stale data. 0 turns it
   * off. (A caching store's own records are memoized as long as it caches them, outside this.)
   * @default 8 MiB
   */
  decryptedCacheBytes?: number
  /**
   * The route stamped into new cookies, naming the worker that owns them.
   * @default process.env.TETHER_ROUTE (set by @tether/cluster), else 'solo'
   */
  route?: string
  /** Counters to update; pass your own to share them or to read them from outside. */
  metrics?: Metrics
  /**
   * Names the user a session belongs to, for stores with a per-user index ("log out everywhere").
   * Called on each write of a session.
   */
  owner?: (session: Session) => string | undefined
}

/** The defaults of {@link TetherOptions}, in one place. */
const DEFAULTS = {
  idleTimeout: 30 * 60_000,
  absoluteTimeout: 12 * 60 * 60_000,
  // One touch write per 3 minutes at most for a session read on every request (30 min idle).
  touchAfter: 0.1,
  decryptedCacheBytes: 8 * 1024 * 1024,
}

/** {@link TetherOptions} validated, with every default filled in. */
export interface ResolvedTetherOptions {
  readonly keyring: Keyring
  readonly store: SessionStore
  /** The store is the default MemoryStore, which the manager closes. */
  readonly ownsStore: boolean
  /** The store's synchronous forms can be used (see synchronousForms()). */
  readonly synchronous: boolean
  readonly cookie: ResolvedCookieOptions
  readonly idleTimeout: number
  readonly absoluteTimeout: number
  /** Milliseconds after the last recorded activity before an unchanged session is touched. */
  readonly touchInterval: number
  readonly encrypted: boolean
  readonly decryptedCacheBytes: number
  readonly route: string
  readonly metrics: Metrics
  readonly owner: ((session: Session) => string | undefined) | undefined
}

/** Every key of TetherOptions, checked against the interface at compile time. */
const TETHER_OPTION_NAMES = [
  'secret',
  'store',
  'cookie',
  'idleTimeout',
  'absoluteTimeout',
  'touchAfter',
  'encrypt',
  'decryptedCacheBytes',
  'route',
  'metrics',
  'owner',
] as const satisfies readonly (keyof TetherOptions)[]
const everyOptionNamed: EveryOptionNamed<TetherOptions, typeof TETHER_OPTION_NAMES> = true
void everyOptionNamed

/** The adapters' own options (see AdapterOptions), which reach the manager with the rest. */
export const ADAPTER_OPTION_NAMES: readonly string[] = ['retryAfter']

/**
 * Validates the options once, in a fixed order (the first bad one is the one reported), and fills
 * in the defaults; throws a TypeError naming the option and what is allowed.
 */
export function resolveTetherOptions(
  options: TetherOptions,
  moreOptions: readonly string[] = ADAPTER_OPTION_NAMES,
): ResolvedTetherOptions {
  if (typeof options !== 'object' || options === null) throw optionError('options', 'an object', options)
  rejectUnknownOptions(options, [...TETHER_OPTION_NAMES, ...moreOptions])
  if (options.secret === undefined)
    throw optionError('secret', 'a string of at least 32 characters (or an array of them)', undefined)
  const keyring = new Keyring(options.secret)
  if (options.store !== undefined && !isStore(options.store)) {
    throw optionError(
      'store',
      'a SessionStore (get, write, touch, destroy, close); wrap an express-session store with fromExpressSessionStore()',
      options.store,
    )
  }
  const store = options.store ?? new MemoryStore()
  const cookie = resolveCookieOptions(options.cookie)
  const idleTimeout = positiveNumber('idleTimeout', options.idleTimeout, DEFAULTS.idleTimeout)
  const absoluteTimeout = positiveNumber('absoluteTimeout', options.absoluteTimeout, DEFAULTS.absoluteTimeout)
  if (idleTimeout > absoluteTimeout) {
    warnOnce(
      'TETHER_IDLE_OVER_ABSOLUTE',
      `idleTimeout (${idleTimeout} ms) is larger than absoluteTimeout (${absoluteTimeout} ms): every session ends at its absolute timeout first, so the idle timeout never applies`,
    )
  }
  const touchInterval = fraction('touchAfter', options.touchAfter, DEFAULTS.touchAfter) * idleTimeout
  const encrypted = boolean('encrypt', options.encrypt, !store.inProcess)
  const decryptedCacheBytes = byteCount(
    'decryptedCacheBytes',
    options.decryptedCacheBytes,
    DEFAULTS.decryptedCacheBytes,
  )
  const route = resolveRoute(options.route)
  if (options.metrics !== undefined && !(options.metrics instanceof Metrics)) {
    throw optionError('metrics', 'a Metrics instance from @tether/core', options.metrics)
  }
  if (options.owner !== undefined && typeof options.owner !== 'function') {
    throw optionError('owner', 'a function (session) => user id or undefined', options.owner)
  }
  return {
    keyring,
    store,
    ownsStore: options.store === undefined,
    synchronous: synchronousForms(store),
    cookie,
    idleTimeout,
    absoluteTimeout,
    touchInterval,
    encrypted,
    decryptedCacheBytes,
    route,
    metrics: options.metrics ?? new Metrics(),
    owner: options.owner,
  }
}

/** When a session created at `createdAt` and last active at `touchedAt` expires. */
export function expiryOf(
  timeouts: Pick<ResolvedTetherOptions, 'idleTimeout' | 'absoluteTimeout'>,
  createdAt: number,
  touchedAt: number,
): number {
  return Math.min(touchedAt + timeouts.idleTimeout, createdAt + timeouts.absoluteTimeout)
}
