import { availableParallelism } from 'node:os'
import type { SecureContextOptions, TlsOptions } from 'node:tls'
import {
  type EveryOptionNamed,
  Keyring,
  optionError,
  ROUTE_PATTERN,
  rejectUnknownOptions,
  type Secret,
} from '@tether/core/adapter'
import { DEFAULT_VIRTUAL_NODES } from './hash-ring.js'
import { type TrustedProxies, trustedProxies } from './strategies/client-ip.js'
import type { StrategyName } from './strategies/strategy.js'

/** Options of startCluster(). Only `undefined` means "use the default". */
export interface ClusterOptions {
  /** Worker processes, each in a slot with a stable route. @default os.availableParallelism() */
  workers?: number
  /** Port the primary listens on; 0 picks a free one (read it back from `cluster.port`). @default 0 */
  port?: number
  /** Address to listen on. @default all interfaces, like `server.listen(port)` */
  host?: string
  /**
   * Strategies in the order they are tried. `'cookie'` and `'url-param'` read the route of the
   * session value (`'url-param'` also the route in an engine.io id made by `socketIoId`);
   * `'client-ip'` and `'proxy-protocol'` hash the client's address on the ring, for clients that
   * cannot keep a cookie (everyone behind one NAT or proxy then shares a worker). A connection no
   * strategy claims (a first visit) goes to the living worker with the fewest open connections.
   * @default ['cookie', 'url-param'] (['client-ip'] with `https`, where nothing else can be read)
   */
  strategies?: readonly StrategyName[]
  /**
   * Name of the session cookie, as given to the adapters (`cookie.name`). The router reads
   * `__Host-<name>` first, then `<name>`, like the adapters.
   * @default 'tether.sid'
   */
  cookieName?: string
  /** Query parameter carrying the session value for the `'url-param'` strategy. @default 'tether.sid' */
  urlParam?: string
  /**
   * The app's secret(s). When given, the primary checks the cookie's MAC before trusting its route,
   * so forged cookies cannot pin traffic on one worker (one HMAC per new connection). Without it
   * only the cookie's shape is checked; the worker still verifies it before using the session.
   */
  secret?: Secret | readonly Secret[]
  /**
   * Addresses (or CIDR ranges, or `'loopback'`) of proxies whose X-Forwarded-For and PROXY headers
   * are believed. Nobody else's are: a client could otherwise pick its own worker.
   * @default [] (trust nobody)
   */
  trustedProxies?: readonly string[]
  /**
   * Consistent hashing with bounded loads: a worker above `factor` times the average number of
   * open connections passes new keys on clockwise. `true` means a factor of 1.25. It trades a
   * little stickiness of IP-hashed clients for evenness; cookie routes are never affected.
   * @default false
   */
  boundedLoad?: boolean | number
  /** Virtual nodes per worker on the ring. @default 512 */
  virtualNodes?: number
  /** Largest request head the primary reads before answering 431. @default 16384 */
  maxHeaderSize?: number
  /** Time for a client to send its whole request head before it gets a 408. @default 10000 */
  headersTimeout?: number
  /**
   * Prefix for routes when several machines run Tether behind one load balancer: worker i of node
   * `a` gets route `a-w<i>`. Letters, digits, `_` and `-`, at most 27 characters.
   * @default none (routes are `w0`, `w1`, ...)
   */
  nodeName?: string
  /**
   * Serve HTTPS: the workers terminate TLS and the primary reads nothing, so only `'client-ip'`
   * (on the TCP address) can route. Cookie and URL routing need plaintext at the primary: put a
   * TLS-terminating proxy such as HAProxy in front instead.
   */
  https?: TlsOptions & SecureContextOptions
  /** First delay before a crashed worker's slot is refilled; doubles per crash. @default 100 */
  restartDelay?: number
  /** Longest delay between restarts of a slot. @default 10000 */
  maxRestartDelay?: number
  /**
   * Crashes of one slot within `restartWindow` after which the slot is reported as crash-looping
   * and no longer restarted. @default 5
   */
  maxRestarts?: number
  /** Window for `maxRestarts`, in ms. @default 60000 */
  restartWindow?: number
  /** How long a new worker may take to call back ready (the app factory included). @default 30000 */
  readyTimeout?: number
  /**
   * How long a worker being replaced or stopped may take to finish its connections before it is
   * killed. @default 30000
   */
  drainTimeout?: number
  /**
   * How long a ready worker may go without a heartbeat (it sends one every tenth of this, at least
   * every second, from its event loop) before it counts as hung: it is taken off the ring at once
   * (its sessions go to the ring's pick, as for a dead worker), its connections not yet
   * acknowledged are routed again, and it is killed and replaced. Generous by default, so a long
   * synchronous task is not taken for a hang. 0 turns the check off. @default 10000
   */
  heartbeatTimeout?: number
  /**
   * Copies every session of a worker's MemoryStore to a backup worker: the one the router sends
   * the session's requests to if its owner dies, so a crash, a `kill -9` or a reload loses no
   * session. `'sync'`: a write's response waits until the backup has it (at most
   * `replicationTimeout`); `'async'`: it does not, and a crash can lose the changes of the last
   * moment (see `metrics().replication.lagMs`). Useless with RedisStore or HybridStore, which
   * share sessions already. @default 'off'
   */
  replication?: 'off' | 'async' | 'sync'
  /**
   * With `replication: 'sync'`, the longest a response waits for the backup; after it the response
   * goes out and the write counts in `metrics().replication.unacknowledged`. @default 1000
   */
  replicationTimeout?: number
  /** Seconds in the Retry-After header of a 503 sent while no worker is alive. @default 1 */
  retryAfter?: number
  /** Drain and exit on SIGTERM and SIGINT. @default true */
  handleSignals?: boolean
}

/** Options after validation, with defaults filled in. */
export interface ResolvedClusterOptions {
  readonly workers: number
  readonly port: number
  readonly host: string | undefined
  readonly strategies: readonly StrategyName[]
  readonly cookieName: string
  readonly urlParam: string
  readonly keyring: Keyring | undefined
  readonly trusted: TrustedProxies
  readonly boundedLoad: number | undefined
  readonly virtualNodes: number
  readonly maxHeaderSize: number
  readonly headersTimeout: number
  readonly nodeName: string | undefined
  readonly https: (TlsOptions & SecureContextOptions) | undefined
  readonly restartDelay: number
  readonly maxRestartDelay: number
  readonly maxRestarts: number
  readonly restartWindow: number
  readonly readyTimeout: number
  readonly drainTimeout: number
  readonly heartbeatTimeout: number
  readonly replication: 'off' | 'async' | 'sync'
  readonly replicationTimeout: number
  readonly retryAfter: number
  readonly handleSignals: boolean
}

/** Every key of ClusterOptions, checked against the interface at compile time. */
const CLUSTER_OPTION_NAMES = [
  'workers',
  'port',
  'host',
  'strategies',
  'cookieName',
  'urlParam',
  'secret',
  'trustedProxies',
  'boundedLoad',
  'virtualNodes',
  'maxHeaderSize',
  'headersTimeout',
  'nodeName',
  'https',
  'restartDelay',
  'maxRestartDelay',
  'maxRestarts',
  'restartWindow',
  'readyTimeout',
  'drainTimeout',
  'heartbeatTimeout',
  'replication',
  'replicationTimeout',
  'retryAfter',
  'handleSignals',
] as const satisfies readonly (keyof ClusterOptions)[]
const everyOptionNamed: EveryOptionNamed<ClusterOptions, typeof CLUSTER_OPTION_NAMES> = true
void everyOptionNamed

const STRATEGIES: readonly StrategyName[] = ['cookie', 'url-param', 'client-ip', 'proxy-protocol']
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

function integer(
  name: string,
  value: unknown,
  fallback: number,
  min: number,
  max: number,
  what: string,
): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw optionError(name, what, value)
  }
  return value
}

function milliseconds(name: string, value: unknown, fallback: number): number {
  return integer(name, value, fallback, 1, 2 ** 31 - 1, 'a positive integer number of milliseconds')
}

function heartbeat(value: unknown): number {
  const what = '0 (off) or a whole number of milliseconds from 100 to 2147483647'
  const ms = integer('heartbeatTimeout', value, 10_000, 0, 2 ** 31 - 1, what)
  if (ms > 0 && ms < 100) throw optionError('heartbeatTimeout', what, value)
  return ms
}

function replicationMode(value: unknown): 'off' | 'async' | 'sync' {
  if (value === undefined) return 'off'
  if (value === 'off' || value === 'async' || value === 'sync') return value
  throw optionError('replication', "'off', 'async' or 'sync'", value)
}

/** How often a worker sends its heartbeat: a tenth of the timeout, at most a second apart. */
export function heartbeatInterval(timeout: number): number {
  return Math.max(10, Math.min(1_000, Math.floor(timeout / 10)))
}

function bool(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw optionError(name, 'true or false', value)
  return value
}

function token(name: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback
  if (typeof value !== 'string' || !TOKEN.test(value)) {
    throw optionError(name, 'a non-empty name of RFC 6265 token characters', value)
  }
  return value
}

/** Validates startCluster's options once, throwing a TypeError that names the offending option. */
export function resolveClusterOptions(options: ClusterOptions | undefined): ResolvedClusterOptions {
  const o = options ?? {}
  if (typeof o !== 'object' || o === null) throw optionError('options', 'an object', o)
  rejectUnknownOptions(o, CLUSTER_OPTION_NAMES)
  const https = o.https
  if (https !== undefined && (typeof https !== 'object' || https === null)) {
    throw optionError('https', 'an object of TLS options (key, cert, ...)', https)
  }
  let strategies: readonly StrategyName[]
  if (o.strategies === undefined) {
    strategies = https === undefined ? ['cookie', 'url-param'] : ['client-ip']
  } else {
    const allowed = `a non-empty array of ${STRATEGIES.map((s) => `'${s}'`).join(', ')}`
    if (!Array.isArray(o.strategies) || o.strategies.length === 0)
      throw optionError('strategies', allowed, o.strategies)
    for (const s of o.strategies) if (!STRATEGIES.includes(s)) throw optionError('strategies', allowed, s)
    if (new Set(o.strategies).size !== o.strategies.length) {
      throw optionError('strategies', `${allowed}, each at most once`, o.strategies)
    }
    strategies = [...o.strategies]
  }
  if (https !== undefined) {
    const plaintext = strategies.find((s) => s !== 'client-ip')
    if (plaintext !== undefined) {
      throw new TypeError(
        `strategies must be ['client-ip'] with https: the '${plaintext}' strategy needs to read the ` +
          'request, which the primary cannot do when the workers terminate TLS (terminate TLS in a proxy ' +
          'such as HAProxy in front of Tether instead)',
      )
    }
  }
  const trusted = trustedProxies(o.trustedProxies)
  if (strategies.includes('proxy-protocol') && trusted.empty) {
    throw optionError(
      'trustedProxies',
      "the load balancers' addresses when the 'proxy-protocol' strategy is on (nobody else may send PROXY headers)",
      o.trustedProxies,
    )
  }
  let boundedLoad: number | undefined
  if (o.boundedLoad === true) boundedLoad = 1.25
  else if (o.boundedLoad === undefined || o.boundedLoad === false) boundedLoad = undefined
  else if (typeof o.boundedLoad === 'number' && Number.isFinite(o.boundedLoad) && o.boundedLoad > 1) {
    boundedLoad = o.boundedLoad
  } else throw optionError('boundedLoad', 'true, false or a factor above 1 (such as 1.25)', o.boundedLoad)
  const nodeName = o.nodeName
  // Empty would give routes like `-w0`, which no proxy rule could tell apart from another node's.
  if (
    nodeName !== undefined &&
    (typeof nodeName !== 'string' || nodeName === '' || !ROUTE_PATTERN.test(`${nodeName}-w999`))
  ) {
    throw optionError('nodeName', '1 to 27 characters of A-Z, a-z, 0-9, "_" or "-"', nodeName)
  }
  if (o.host !== undefined && (typeof o.host !== 'string' || o.host === '')) {
    throw optionError('host', 'an address or host name', o.host)
  }
  return {
    workers: integer('workers', o.workers, availableParallelism(), 1, 999, 'an integer from 1 to 999'),
    port: integer('port', o.port, 0, 0, 65_535, 'a port number from 0 to 65535'),
    host: o.host,
    strategies,
    cookieName: token('cookieName', o.cookieName, 'tether.sid'),
    urlParam: token('urlParam', o.urlParam, 'tether.sid'),
    keyring: o.secret === undefined ? undefined : new Keyring(o.secret),
    trusted,
    boundedLoad,
    virtualNodes: integer(
      'virtualNodes',
      o.virtualNodes,
      DEFAULT_VIRTUAL_NODES,
      1,
      65_536,
      'an integer from 1 to 65536',
    ),
    // Node's own default for http.Server, so the primary and the worker agree on what fits.
    maxHeaderSize: integer(
      'maxHeaderSize',
      o.maxHeaderSize,
      16 * 1024,
      256,
      1024 * 1024,
      'an integer from 256 to 1048576 (bytes)',
    ),
    headersTimeout: milliseconds('headersTimeout', o.headersTimeout, 10_000),
    nodeName,
    https,
    restartDelay: milliseconds('restartDelay', o.restartDelay, 100),
    maxRestartDelay: milliseconds('maxRestartDelay', o.maxRestartDelay, 10_000),
    maxRestarts: integer('maxRestarts', o.maxRestarts, 5, 1, 1_000_000, 'a positive integer'),
    restartWindow: milliseconds('restartWindow', o.restartWindow, 60_000),
    readyTimeout: milliseconds('readyTimeout', o.readyTimeout, 30_000),
    drainTimeout: milliseconds('drainTimeout', o.drainTimeout, 30_000),
    heartbeatTimeout: heartbeat(o.heartbeatTimeout),
    replication: replicationMode(o.replication),
    replicationTimeout: milliseconds('replicationTimeout', o.replicationTimeout, 1_000),
    retryAfter: integer(
      'retryAfter',
      o.retryAfter,
      1,
      0,
      86_400,
      'a whole number of seconds from 0 to 86400',
    ),
    handleSignals: bool('handleSignals', o.handleSignals, true),
  }
}

/** The route of worker slot `index`: `w<index>`, or `<nodeName>-w<index>`. */
export function routeOfSlot(index: number, nodeName: string | undefined): string {
  return nodeName === undefined ? `w${index}` : `${nodeName}-w${index}`
}
