import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import https from 'node:https'
import { Server as NetServer, Socket, type SocketConstructorOpts } from 'node:net'
import { Server as TlsServer } from 'node:tls'
import {
  CONNECTION_ROUTE,
  installReplicationHub,
  isMisrouted,
  type Keyring,
  localSessionCount,
  parseCookieValue,
  ROUTE_ENV,
  readCookieValues,
  sessionCookieNames,
  verifyCookieValue,
} from '@tether/core/adapter'
import { startDraining } from './drain-signal.js'
import { type ConnectionMessage, isTetherMessage, type StatsMessage, type WorkerMessage } from './messages.js'
import { armRequestTimeouts, responding, wrappedSocket } from './node-internals.js'
import { heartbeatInterval, type ResolvedClusterOptions } from './options.js'
import { WorkerReplication } from './replication/worker-replication.js'
import { routeOfSocketIoId, setSocketIoIdentity } from './socket-io-id.js'
import { queryValues } from './strategies/url-param.js'
import { serveUserSessions } from './user-sessions-worker.js'

/** A Fastify instance, as far as the cluster needs one (its http server after `ready()`). */
export interface FastifyLike {
  readonly server: http.Server | https.Server
  ready(): PromiseLike<unknown>
  close(): PromiseLike<unknown>
}

/** A request listener; an Express app is one. */
export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void

/** What the app factory may return. The server must not be listening: the cluster feeds it. */
export type ClusterApp = RequestListener | http.Server | https.Server | FastifyLike

/** Builds the app inside each worker. */
export type AppFactory = () => ClusterApp | Promise<ClusterApp>

interface ConnectionState {
  /**
   * The primary routed this connection by its first request's session cookie, so that request
   * needs no misroute check (a new connection per request then costs no cookie parsing here).
   */
  readonly byCookie: boolean
  /** Requests seen, to tell a socket that was idle at both of two drain ticks from a busy one. */
  seen: number
  seenAtLastTick: number
  /** socket.bytesRead at the last drain tick: a request still arriving is not idle. */
  bytesAtLastTick: number
  idleTicks: number
  /** Taken over by an 'upgrade' handler (WebSocket): not ours to close when idle. */
  upgraded: boolean
  /** The socket requests arrive on: the handed socket itself, or the TLSSocket over it (HTTPS). */
  requestSocket: Socket | undefined
}

/** Interval of the drain loop; a connection idle at two consecutive ticks is closed. */
const DRAIN_TICK_MS = 250
/** Most often a worker reports its counters to the primary. */
const STATS_INTERVAL_MS = 100
/** How often a worker reports anyway: requests and sessions change without connections doing so. */
const REPORT_MS = 1000
/** How often a worker with replication on reports anyway (lag and queue figures). */
const REPLICATION_REPORT_MS = 500

/** The route of the first engine.io id made by socketIoId() in the query of `url`, if any. */
function engineIoRouteOf(url: string, keyring: Keyring | undefined): string | undefined {
  for (const value of queryValues(url, 'sid')) {
    const engineRoute = routeOfSocketIoId(value, keyring)
    if (engineRoute !== undefined) return engineRoute
  }
  return undefined
}

function isFastify(app: unknown): app is FastifyLike {
  return (
    typeof app === 'object' &&
    app !== null &&
    (app as FastifyLike).server instanceof NetServer &&
    typeof (app as FastifyLike).ready === 'function'
  )
}

async function serverOf(
  app: ClusterApp,
  options: ResolvedClusterOptions,
): Promise<{ server: http.Server | https.Server; close: (() => Promise<unknown>) | undefined }> {
  let server: http.Server | https.Server
  let close: (() => Promise<unknown>) | undefined
  if (app instanceof NetServer) {
    server = app
  } else if (isFastify(app)) {
    await app.ready()
    server = app.server
    close = async () => app.close()
  } else if (typeof app === 'function') {
    server =
      options.https === undefined
        ? http.createServer({ maxHeaderSize: options.maxHeaderSize }, app)
        : https.createServer({ ...options.https, maxHeaderSize: options.maxHeaderSize }, app)
  } else {
    throw new TypeError(
      'the app factory must return a request listener (or Express app), an http.Server, an https.Server or a Fastify instance',
    )
  }
  if (server.listening) {
    throw new TypeError(
      'the app factory must return a server that is not listening: the cluster feeds it connections',
    )
  }
  const tls = server instanceof TlsServer
  if (tls !== (options.https !== undefined)) {
    throw new TypeError(
      tls
        ? 'the app factory returned an https.Server: pass the TLS options as startCluster({ https }) so the primary does not read the encrypted bytes'
        : 'startCluster({ https }) needs the app factory to return a request listener, an Express app or an https.Server',
    )
  }
  // So that keep-alive requests after the first are guarded by headersTimeout too.
  armRequestTimeouts(server)
  return { server, close }
}

/**
 * The worker side: builds the app, then serves each socket the primary hands over by replaying
 * the bytes the primary already read and emitting 'connection' on the app's server (which never
 * listens). Reports ready, its open connections and the misroutes it sees; on 'drain' it answers
 * every further request with `Connection: close`, closes idle connections, and exits
 * once the last one is gone. Never resolves: code after `await startCluster()` runs in the primary.
 */
export async function runWorker(options: ResolvedClusterOptions, factory: AppFactory): Promise<never> {
  const route = process.env[ROUTE_ENV] ?? ''
  setSocketIoIdentity(route, options.keyring)
  const send = (message: WorkerMessage) => {
    if (process.connected) process.send?.(message, undefined, {}, () => undefined)
  }
  // Before the app is built, so that its MemoryStores attach as they are made.
  const replication =
    options.replication === 'off'
      ? undefined
      : new WorkerReplication({
          mode: options.replication,
          timeout: options.replicationTimeout,
          send,
          route,
        })
  // Before ready: the primary passes this socket on to the other workers with the first plan.
  const replicaPeer = await replication?.listen()
  let replicatedStores = 0
  installReplicationHub(
    replication && {
      attach: (source) => {
        replicatedStores++
        return replication.attach(source)
      },
    },
  )
  // Also before the app: its session managers find the broadcast when they are made.
  const userSessions = serveUserSessions(send)
  const { server, close } = await serverOf(await factory(), options)
  const connections = new Map<Socket, ConnectionState>()
  const cookieName = options.cookieName
  // `__Host-<name>` contains `<name>=`, so one substring test covers both names.
  const cookiePrefix = `${cookieName}=`
  const cookieNames = sessionCookieNames(cookieName)
  let misroutes = 0
  let requests = 0
  let draining = false
  let drainTimer: NodeJS.Timeout | undefined
  let statsTimer: NodeJS.Timeout | undefined

  const reportSoon = () => {
    if (statsTimer !== undefined) return
    statsTimer = setTimeout(() => {
      statsTimer = undefined
      const stats: StatsMessage = {
        tether: 'stats',
        connections: connections.size,
        misroutes,
        requests,
        sessions: localSessionCount(),
        ...(replication === undefined ? {} : { replication: replication.stats() }),
      }
      send(stats)
    }, STATS_INTERVAL_MS).unref()
  }
  setInterval(reportSoon, replication === undefined ? REPORT_MS : REPLICATION_REPORT_MS).unref()
  if (replication !== undefined) {
    // Routes this worker stopped serving (their owner is back): requests still arriving on their
    // connections count as misrouted from now on, so the client's next request goes to the owner.
    replication.onHoldsChanged = (holds) => {
      for (const socket of connections.keys()) {
        const s = socket as Socket & { [CONNECTION_ROUTE]?: string }
        if (s[CONNECTION_ROUTE] !== undefined && !holds.has(s[CONNECTION_ROUTE])) delete s[CONNECTION_ROUTE]
      }
    }
  }

  /** The state of the handed socket under `socket` (itself, or the one a TLSSocket wraps). */
  const stateOf = (socket: Socket): ConnectionState | undefined => {
    const state = connections.get(socket) ?? connections.get(wrappedSocket(socket) as Socket)
    if (state !== undefined) state.requestSocket = socket
    return state
  }

  /**
   * Checks a request before the app sees it; true when it was answered here. A keep-alive
   * connection (pooled by a browser or a proxy) can bring a request that belongs to another worker.
   */
  const intercept = (req: IncomingMessage, res: ServerResponse): boolean => {
    requests++
    const state = stateOf(req.socket)
    if (draining) res.setHeader('Connection', 'close')
    const first = state !== undefined && state.seen++ === 0
    const url = req.url
    if (url?.includes('sid=')) {
      const engineRoute = engineIoRouteOf(url, options.keyring)
      if (engineRoute !== undefined) {
        if (!isMisrouted(engineRoute, route, req.socket)) return false // ours: the cookie does not matter
        // Its engine.io session lives in another worker, where engine.io alone can answer it: send
        // the client round on a new connection (XHR and fetch follow a 307 with method and body).
        misroutes++
        reportSoon()
        req.resume()
        res.writeHead(307, {
          location: url,
          connection: 'close',
          'cache-control': 'no-store',
          'content-length': 0,
        })
        res.end()
        return true
      }
    }
    if (first && state.byCookie) return false
    const cookie = req.headers.cookie
    if (cookie?.includes(cookiePrefix)) {
      for (const value of readCookieValues(cookie, cookieNames)) {
        // With the secret, a planted cookie is skipped instead of taken for a misroute.
        const parts =
          options.keyring === undefined ? parseCookieValue(value) : verifyCookieValue(value, options.keyring)
        if (parts === undefined) continue
        if (isMisrouted(parts.route, route, req.socket)) {
          // The adapters do this too; doing it here as well keeps the promise for any app (and for
          // a session the adapter cannot load here): the client's next request is routed afresh.
          res.setHeader('Connection', 'close')
          misroutes++
          reportSoon()
        }
        break
      }
    }
    return false
  }
  // The app's request listeners (engine.io's among them) run only for requests not answered here.
  const appListeners = server.listeners('request') as RequestListener[]
  server.removeAllListeners('request')
  const only = appListeners.length === 1 ? appListeners[0] : undefined
  server.on('request', function tetherRequest(this: unknown, req: IncomingMessage, res: ServerResponse) {
    if (intercept(req, res)) return
    if (only !== undefined) only.call(this, req, res)
    else for (const listener of appListeners) listener.call(this, req, res)
  })
  server.prependListener('upgrade', (req: IncomingMessage) => {
    const state = stateOf(req.socket)
    if (state !== undefined) state.upgraded = true
  })

  const exitWhenIdle = () => {
    if (!draining || connections.size > 0) return
    clearInterval(drainTimer)
    // The last changes reach the backup before the process goes (bounded by replicationTimeout).
    const exit = () => {
      if (replication === undefined) process.exit(0)
      else void replication.whenIdle(options.replicationTimeout).then(() => process.exit(0))
    }
    if (close === undefined) exit()
    else close().then(exit, exit)
  }
  const drain = () => {
    if (draining) return
    draining = true
    startDraining()
    drainTimer = setInterval(() => {
      for (const [socket, state] of connections) {
        const requestSocket = state.requestSocket ?? socket
        const bytes = requestSocket.bytesRead
        if (
          state.upgraded ||
          responding(requestSocket) ||
          state.seen !== state.seenAtLastTick ||
          bytes !== state.bytesAtLastTick
        ) {
          state.seenAtLastTick = state.seen
          state.bytesAtLastTick = bytes
          state.idleTicks = 0
        } else if (++state.idleTicks >= 2) {
          socket.destroy()
        }
      }
    }, DRAIN_TICK_MS)
    exitWhenIdle()
  }

  // One listener function for every socket (no closure per connection).
  function onSocketClose(this: Socket): void {
    connections.delete(this)
    reportSoon()
    exitWhenIdle()
  }

  process.on('message', (message: unknown, handle: unknown) => {
    if (!isTetherMessage(message)) return
    if (replication?.onMessage(message) === true) return
    if (userSessions(message)) return
    if (message.tether === 'drain') return drain()
    if (message.tether !== 'connection' || handle === undefined || handle === null) return
    // The primary sends the raw TCP handle (see PoolWorker.handOff); wrap it like net.Server would.
    const socket =
      handle instanceof Socket
        ? handle
        : new Socket({ handle, readable: true, writable: true } as SocketConstructorOpts)
    // http.Server's default (noDelay: true) is applied by net.Server on accept, which never runs here.
    socket.setNoDelay(true)
    const { head, connectionRoute, byCookie } = message as ConnectionMessage
    if (connectionRoute !== undefined)
      (socket as Socket & { [CONNECTION_ROUTE]?: string })[CONNECTION_ROUTE] = connectionRoute
    const state: ConnectionState = {
      byCookie: byCookie === true,
      seen: 0,
      seenAtLastTick: 0,
      bytesAtLastTick: -1,
      idleTicks: 0,
      upgraded: false,
      requestSocket: undefined,
    }
    connections.set(socket, state)
    socket.on('close', onSocketClose)
    if (head.length > 0) socket.unshift(Buffer.from(head, 'base64'))
    server.emit('connection', socket)
    reportSoon()
  })
  // Under a primary, a signal means "leave cleanly": the primary starts a successor, and sends
  // 'drain' once connections go there (none is handed over after it).
  let leaving = false
  const leave = () => {
    if (draining || leaving) return
    leaving = true
    send({ tether: 'leaving' })
  }
  process.on('SIGTERM', leave)
  process.on('SIGINT', leave)
  send(
    replicaPeer === undefined
      ? { tether: 'ready' }
      : { tether: 'ready', replicatedStores, replica: replicaPeer },
  )
  if (options.heartbeatTimeout > 0) {
    // Sent from this event loop: a worker stuck in synchronous code (or stopped) sends none.
    setInterval(() => send({ tether: 'heartbeat' }), heartbeatInterval(options.heartbeatTimeout)).unref()
  }
  return new Promise<never>(() => undefined)
}
