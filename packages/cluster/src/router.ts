import type { Socket } from 'node:net'
import { HashRing } from './hash-ring.js'
import { HeadReader, type ParsedHead } from './head-parser.js'
import { type RejectReason, reject } from './http-responses.js'
import type { ConnectionMessage } from './messages.js'
import type { ClusterMetrics, RoutedBy } from './metrics.js'
import type { ResolvedClusterOptions } from './options.js'
import { clientIpStrategy, unmapAddress } from './strategies/client-ip.js'
import { cookieStrategy } from './strategies/cookie.js'
import { proxyProtocolStrategy, readProxyHeader } from './strategies/proxy-protocol.js'
import type { RoutingInput, Strategy, StrategyName } from './strategies/strategy.js'
import { urlParamStrategy } from './strategies/url-param.js'
import type { PoolWorker, WorkerPool } from './supervisor.js'

/** Where a connection goes, and why. */
export interface RouteChoice {
  readonly worker: PoolWorker
  readonly by: RoutedBy
  /** The route whose sessions this connection carries when its owner was down (a fallback). */
  readonly connectionRoute: string | undefined
}

/** The only headers the strategies read; the head parser skips the others. */
const ROUTING_HEADERS: ReadonlySet<string> = new Set(['cookie', 'x-forwarded-for'])

/** A connection as the strategies see it; the peer address is looked up only if one asks. */
class ConnectionInput implements RoutingInput {
  readonly head: ParsedHead | undefined
  readonly proxyAddress: string | undefined
  readonly #socket: Socket
  #peerAddress: string | undefined

  constructor(socket: Socket, head: ParsedHead | undefined, proxyAddress: string | undefined) {
    this.#socket = socket
    this.head = head
    this.proxyAddress = proxyAddress
  }

  get peerAddress(): string {
    this.#peerAddress ??= unmapAddress(this.#socket.remoteAddress ?? '')
    return this.#peerAddress
  }
}

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
  readonly #metrics: ClusterMetrics
  readonly #strategies: Array<[StrategyName, Strategy]>
  readonly #readsHead: boolean
  readonly #readsProxy: boolean
  /** Sockets whose head is being read, so close() can drop them. */
  readonly #pending = new Set<Socket>()
  readonly #onRouted: (route: string) => void

  constructor(
    options: ResolvedClusterOptions,
    pool: WorkerPool,
    metrics: ClusterMetrics,
    onRouted: (route: string) => void = () => undefined,
  ) {
    this.#options = options
    this.#pool = pool
    this.#metrics = metrics
    this.#onRouted = onRouted
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
    this.#readsHead = options.https === undefined
    this.#readsProxy = options.strategies.includes('proxy-protocol')
  }

  /** The 'connection' listener for a net.Server created with `pauseOnConnect: true`. */
  readonly handle = (socket: Socket): void => {
    socket.on('error', () => undefined)
    if (!this.#readsHead) {
      this.#dispatch(socket, Buffer.alloc(0), new ConnectionInput(socket, undefined, undefined), 1)
      return
    }
    this.#read(socket)
  }

  /** Drops connections still sending their head (used on close). */
  closePending(): void {
    for (const socket of this.#pending) socket.destroy()
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

  #read(socket: Socket): void {
    const options = this.#options
    const reader = new HeadReader(options.maxHeaderSize)
    let proxyPending: Buffer | undefined =
      this.#readsProxy && options.trusted.has(unmapAddress(socket.remoteAddress ?? ''))
        ? Buffer.alloc(0)
        : undefined
    let proxyAddress: string | undefined
    this.#pending.add(socket)
    const done = (reason?: RejectReason) => {
      clearTimeout(timer)
      this.#pending.delete(socket)
      socket.removeListener('data', onData)
      socket.removeListener('end', onEnd)
      socket.removeListener('close', onClose)
      if (reason !== undefined) {
        this.#metrics.rejected[reason]++
        reject(socket, reason)
      }
    }
    const timer = setTimeout(() => done('timeout'), options.headersTimeout).unref()
    const onEnd = () => {
      done()
      this.#metrics.aborted++
      socket.destroy()
    }
    // Reset by the client (or dropped by close()) before the head was complete.
    const onClose = () => {
      done()
      this.#metrics.aborted++
    }
    const onData = (data: Buffer) => {
      let chunk = data
      if (proxyPending !== undefined) {
        const buffered: Buffer = proxyPending.length === 0 ? chunk : Buffer.concat([proxyPending, chunk])
        const proxy = readProxyHeader(buffered, options.maxHeaderSize)
        if (proxy.status === 'incomplete') {
          proxyPending = buffered
          return
        }
        if (proxy.status === 'bad') return done('badRequest')
        proxyPending = undefined
        if (proxy.status === 'ok') {
          proxyAddress = proxy.address
          chunk = buffered.subarray(proxy.length)
          if (chunk.length === 0) return
        } else chunk = buffered
      }
      const status = reader.push(chunk)
      if (status === 'incomplete') return
      if (status === 'too-large') return done('tooLarge')
      if (status === 'bad-request') return done('badRequest')
      const head = reader.parse(ROUTING_HEADERS)
      if (head === undefined) return done('badRequest')
      done()
      this.#stopReading(socket)
      let bytes = reader.bytes()
      if (socket.readableLength > 0) {
        // Data buffered in the stream (not expected in flowing mode) belongs with the head. read()
        // may restart reading at the handle, so stop it again before the event loop reads more.
        const rest = socket.read(socket.readableLength) as Buffer | null
        this.#stopReading(socket)
        if (rest !== null) bytes = Buffer.concat([bytes, rest])
      }
      this.#dispatch(socket, bytes, new ConnectionInput(socket, head, proxyAddress), 1)
    }
    socket.on('data', onData)
    socket.on('end', onEnd)
    socket.on('close', onClose)
    socket.resume()
  }

  /** Stops reading now, at the handle: whatever arrives next stays in the kernel for the worker. */
  #stopReading(socket: Socket): void {
    socket.pause()
    const handle = (socket as unknown as { _handle?: { reading?: boolean; readStop?: () => number } })._handle
    if (handle?.readStop !== undefined) {
      handle.reading = false
      handle.readStop()
    }
  }

  #dispatch(
    socket: Socket,
    bytes: Buffer,
    input: RoutingInput,
    attempt: number,
    excluded?: Set<PoolWorker>,
  ): void {
    let choice = this.choose(input, excluded)
    let by: RoutedBy | undefined = choice?.by
    if (choice === undefined && this.#pool.ring.size > 0) {
      // No strategy had an opinion (a first visit): spread by TCP address and port.
      const key = `${socket.remoteAddress ?? ''}:${socket.remotePort ?? 0}`
      const ring = excluded === undefined ? this.#pool.ring : this.#ringWithout(excluded)
      const worker = this.#worker(this.#pick(ring, key))
      if (worker !== undefined) {
        choice = { worker, by: 'hash', connectionRoute: undefined }
        by = 'hash'
      }
    }
    if (choice === undefined || by === undefined) {
      this.#unavailable(socket)
      return
    }
    const { worker, connectionRoute } = choice
    const message: ConnectionMessage =
      connectionRoute === undefined
        ? { tether: 'connection', head: bytes.toString('base64') }
        : { tether: 'connection', head: bytes.toString('base64'), connectionRoute }
    worker.handOff(message, socket, (delivered) => {
      if (delivered) {
        this.#metrics.routed++
        this.#metrics.routedBy[by]++
        if (connectionRoute !== undefined) this.#metrics.fallbacks++
        this.#onRouted(worker.route)
        return
      }
      if (attempt >= MAX_HANDOFF_ATTEMPTS) {
        this.#unavailable(socket)
        return
      }
      this.#metrics.handoffRetries++
      const next = new Set(excluded)
      // Only this process is excluded: a replacement in the same slot may take the connection.
      next.add(worker)
      this.#dispatch(socket, bytes, input, attempt + 1, next)
    })
  }

  /** No worker can take the connection: a 503 with Retry-After (in HTTPS mode, just a close). */
  #unavailable(socket: Socket): void {
    this.#metrics.rejected.unavailable++
    if (this.#readsHead) reject(socket, 'unavailable', this.#options.retryAfter)
    else socket.destroy()
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
