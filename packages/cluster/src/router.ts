import { unmapAddress } from './address.js'
import type { Connection } from './connection.js'
import { HashRing } from './hash-ring.js'
import type { ParsedHead } from './head/head-reader.js'
import { IncomingHead } from './head/incoming-head.js'
import type { ConnectionMessage } from './messages.js'
import { type RoutedBy, RouterCounters } from './metrics.js'
import type { ResolvedClusterOptions } from './options.js'
import { clientIpStrategy } from './strategies/client-ip.js'
import { cookieStrategy } from './strategies/cookie.js'
import { proxyProtocolStrategy } from './strategies/proxy-protocol.js'
import type { RoutingInput, Strategy, StrategyName } from './strategies/strategy.js'
import { engineIoStrategy, urlParamStrategy } from './strategies/url-param.js'
import type { PoolWorker, WorkerPool } from './supervisor.js'

/** Where a connection goes, and why. */
export interface RouteChoice {
  readonly worker: PoolWorker
  readonly by: RoutedBy
  /** The route whose sessions this connection carries when its owner was down (a fallback). */
  readonly connectionRoute: string | undefined
}

/** A connection as the strategies see it; the peer address is looked up only if one asks. */
class ConnectionInput implements RoutingInput {
  readonly head: ParsedHead | undefined
  readonly proxyAddress: string | undefined
  readonly #connection: Connection
  #peerAddress: string | undefined

  constructor(connection: Connection, head: ParsedHead | undefined, proxyAddress: string | undefined) {
    this.#connection = connection
    this.head = head
    this.proxyAddress = proxyAddress
  }

  get peerAddress(): string {
    this.#peerAddress ??= unmapAddress(this.#connection.remoteAddress)
    return this.#peerAddress
  }
}

const EMPTY = Buffer.alloc(0)

/** How often a connection may be offered to another worker after a failed hand-off. */
const MAX_HANDOFF_ATTEMPTS = 3

/**
 * The primary's connection handler: reads (in plaintext mode) an optional trusted PROXY header and
 * the first request head within the size and time limits, asks the strategies in order, and hands
 * the socket with the bytes already read to the chosen worker. Only one process ever reads a
 * socket: reading stops before the hand-off, and the worker replays the bytes it is given.
 */
export class Router {
  readonly #options: ResolvedClusterOptions
  readonly #pool: WorkerPool
  /** This router's counters, read by Cluster.metrics(). */
  readonly counters = new RouterCounters()
  readonly #strategies: Array<[StrategyName, Strategy]>
  readonly #readsHead: boolean
  readonly #readsProxy: boolean
  /** Connections whose head is being read, so close() can drop them. */
  readonly #pending = new Set<Connection>()
  /** Where the next tie between equally loaded workers is broken (see #leastConnected). */
  #nextSlot = 0

  constructor(options: ResolvedClusterOptions, pool: WorkerPool) {
    this.#options = options
    this.#pool = pool
    this.#strategies = options.strategies.map((name): [StrategyName, Strategy] => {
      switch (name) {
        case 'cookie':
          return [name, cookieStrategy(options.cookieName, options.keyring)]
        case 'url-param':
          return [name, urlParamStrategy(options.urlParam, options.keyring)]
        case 'client-ip':
          return [name, clientIpStrategy(options.trusted)]
        default:
          return [name, proxyProtocolStrategy()]
      }
    })
    // An engine.io id names the one process that holds its connection, so it goes before the
    // cookie (whose owner may have changed since the connection was opened).
    if (options.strategies.includes('url-param'))
      this.#strategies.unshift(['url-param', engineIoStrategy(options.keyring)])
    this.#readsHead = options.https === undefined
    this.#readsProxy = options.strategies.includes('proxy-protocol')
  }

  /** Takes a connection the listener accepted. */
  readonly handle = (connection: Connection): void => {
    if (!this.#readsHead) {
      this.#dispatch(connection, EMPTY, new ConnectionInput(connection, undefined, undefined), 1)
      return
    }
    const options = this.#options
    const incoming = new IncomingHead(
      options.maxHeaderSize,
      this.#readsProxy && options.trusted.has(unmapAddress(connection.remoteAddress)),
    )
    // Most clients send their request with the handshake: it is usually there already, and then
    // the connection is routed at once, with no timer and no wait for the event loop.
    const first = connection.tryRead()
    if (first === null) {
      this.counters.aborted++
      connection.close()
      return
    }
    if (first !== undefined && this.#take(connection, incoming, first)) return
    this.#readRest(connection, incoming)
  }

  /** Drops connections still sending their head (used on close). */
  closePending(): void {
    for (const connection of this.#pending) connection.close()
    this.#pending.clear()
  }

  /** The worker for a connection, or undefined when no worker is alive. */
  choose(input: RoutingInput, excluded?: ReadonlySet<PoolWorker>): RouteChoice | undefined {
    const ring = excluded === undefined || excluded.size === 0 ? this.#pool.ring : this.#ringWithout(excluded)
    for (const [name, strategy] of this.#strategies) {
      const decision = strategy(input)
      if (decision === undefined) continue
      if ('route' in decision) {
        const route = decision.route
        const owner = this.#pool.ready(route)
        if (owner !== undefined && excluded?.has(owner) !== true)
          return { worker: owner, by: name, connectionRoute: undefined }
        // Its owner is down, or gone (fewer workers since, or another machine's route behind a
        // balancer): the ring's pick for the route among the living, the same for all its sessions.
        const fallback = this.#worker(ring.get(route))
        return fallback === undefined ? undefined : { worker: fallback, by: name, connectionRoute: route }
      }
      const worker = this.#worker(this.#pick(ring, decision.key))
      return worker === undefined ? undefined : { worker, by: name, connectionRoute: undefined }
    }
    return undefined
  }

  /** Feeds one chunk of the head; true once the connection was handed over or answered. */
  #take(connection: Connection, incoming: IncomingHead, chunk: Buffer): boolean {
    const result = incoming.push(chunk)
    if (result === undefined) return false
    if (typeof result === 'string') {
      this.counters.rejected[result]++
      connection.reject(result)
      return true
    }
    const rest = connection.stopReading()
    const bytes = rest === undefined ? incoming.bytes() : Buffer.concat([incoming.bytes(), rest])
    this.#dispatch(connection, bytes, new ConnectionInput(connection, result, incoming.proxyAddress), 1)
    return true
  }

  /** Waits for the rest of the head, within headersTimeout. */
  #readRest(connection: Connection, incoming: IncomingHead): void {
    this.#pending.add(connection)
    const finish = () => {
      clearTimeout(timer)
      this.#pending.delete(connection)
    }
    const timer = setTimeout(() => {
      finish()
      this.counters.rejected.timeout++
      connection.reject('timeout')
    }, this.#options.headersTimeout).unref()
    connection.read(
      (chunk) => {
        if (this.#take(connection, incoming, chunk)) finish()
      },
      // The client ended or reset the connection (or close() dropped it) before the head was complete.
      () => {
        if (!this.#pending.has(connection)) return
        finish()
        this.counters.aborted++
        connection.close()
      },
    )
  }

  #dispatch(
    connection: Connection,
    bytes: Buffer,
    input: RoutingInput,
    attempt: number,
    excluded?: Set<PoolWorker>,
  ): void {
    let choice = this.choose(input, excluded)
    if (choice === undefined) {
      // No strategy had an opinion (a first visit): the living worker with the fewest connections.
      const worker = this.#leastConnected(excluded)
      if (worker !== undefined) choice = { worker, by: 'first-visit', connectionRoute: undefined }
    }
    if (choice === undefined) {
      this.#unavailable(connection)
      return
    }
    const by = choice.by
    const { worker, connectionRoute } = choice
    const message: ConnectionMessage = {
      tether: 'connection',
      head: bytes.toString('base64'),
      connectionRoute,
      byCookie: by === 'cookie',
    }
    worker.handOff(message, connection, (delivered) => {
      if (delivered) {
        this.counters.routed++
        this.counters.routedBy[by]++
        if (connectionRoute !== undefined) this.counters.fallbacks++
        this.#pool.countRouted(worker.route)
        return
      }
      if (attempt >= MAX_HANDOFF_ATTEMPTS) {
        this.#unavailable(connection)
        return
      }
      this.counters.handoffRetries++
      const next = new Set(excluded)
      // Only this process is excluded: a replacement in the same slot may take the connection.
      next.add(worker)
      this.#dispatch(connection, bytes, input, attempt + 1, next)
    })
  }

  /** No worker can take the connection: a 503 with Retry-After (in HTTPS mode, just a close). */
  #unavailable(connection: Connection): void {
    this.counters.rejected.unavailable++
    if (this.#readsHead) connection.reject('unavailable', this.#options.retryAfter)
    else connection.close()
  }

  /**
   * The ready worker with the fewest open connections. Ties (every worker idle, as with one new
   * connection per request) go to the first one after the previous pick, so first visits rotate.
   */
  #leastConnected(excluded: ReadonlySet<PoolWorker> | undefined): PoolWorker | undefined {
    const count = this.#pool.slotCount
    let best: PoolWorker | undefined
    let bestIndex = 0
    for (let i = 0; i < count; i++) {
      const index = (this.#nextSlot + i) % count
      const worker = this.#pool.readyAt(index)
      if (worker === undefined || excluded?.has(worker) === true) continue
      if (best === undefined || worker.connections < best.connections) {
        best = worker
        bestIndex = index
      }
    }
    if (best !== undefined) this.#nextSlot = (bestIndex + 1) % count
    return best
  }

  #pick(ring: HashRing, key: string): string | undefined {
    const factor = this.#options.boundedLoad
    if (factor === undefined) return ring.get(key)
    return ring.getBounded(key, (route) => this.#pool.ready(route)?.connections ?? 0, factor)
  }

  #worker(route: string | undefined): PoolWorker | undefined {
    return route === undefined ? undefined : this.#pool.ready(route)
  }

  #ringWithout(excluded: ReadonlySet<PoolWorker>): HashRing {
    return new HashRing(
      this.#pool.ring.nodes().filter((route) => {
        const worker = this.#pool.ready(route)
        return worker !== undefined && !excluded.has(worker)
      }),
      { virtualNodes: this.#options.virtualNodes },
    )
  }
}

export type { ParsedHead }
