import type { ChildProcess } from 'node:child_process'
import http from 'node:http'
import type { Server, Socket } from 'node:net'

// Every undocumented part of Node.js that @tether/cluster relies on, in one place. node:cluster
// and http rely on the same ones; checkNodeInternals() says at start-up which are missing, and each
// has a fallback or fails clearly. Re-check them on every Node.js upgrade (see `engines`).

/**
 * libuv's TCP handle (Node's TCPWrap) as a listening handle's `onconnection` receives it: the
 * object node:cluster's own round-robin passes to its workers.
 */
export interface TcpHandle {
  onread: unknown
  readStart(): number
  readStop(): number
  getpeername(out: { address?: string; port?: number }): number
  useUserBuffer(buffer: Uint8Array): void
  /** The file descriptor (Unix), -1 elsewhere. */
  readonly fd?: number
  close(callback?: () => void): void
}

/**
 * Takes the accepted connections of a listening `server` as bare TCP handles (its listening
 * handle's `onconnection`, as node:cluster's round-robin primary does), instead of letting
 * net.Server wrap each one in a net.Socket. Throws when this Node has no such handle.
 */
export function acceptBareHandles(server: Server, take: (handle: TcpHandle) => void): void {
  const listening = (server as unknown as { _handle?: { onconnection?: unknown } | null })._handle
  if (listening === undefined || listening === null || typeof listening.onconnection !== 'function') {
    throw new Error(
      `@tether/cluster: Node.js ${process.version} has no listening handle to accept connections from (tested: see engines in package.json)`,
    )
  }
  listening.onconnection = (status: number, handle: TcpHandle | undefined) => {
    // An accept error (EMFILE) must not take the primary down; the listener keeps going.
    if (status !== 0 || handle === undefined) return
    take(handle)
  }
}

/** Node's shared read state: where a handle's `onread` finds the length (or error) of the last read. */
export interface ReadState {
  readonly array: Int32Array
  readonly length: number
}

/**
 * Node reports each read of a stream handle through one shared Int32Array of its `stream_wrap`
 * binding (net.Socket reads it the same way). Undefined when this Node does not expose it, or when
 * asked (TETHER_PRIMARY_READER=socket): the primary then reads through a net.Socket, which costs
 * about 60 µs more CPU per connection.
 */
function loadReadState(): ReadState | undefined {
  if (process.env.TETHER_PRIMARY_READER === 'socket') return undefined
  // process.binding() warns under --pending-deprecation: take the socket path then, silently.
  if (process.execArgv.includes('--pending-deprecation')) return undefined
  if ((process.env.NODE_OPTIONS ?? '').includes('--pending-deprecation')) return undefined
  try {
    const binding = (process as unknown as { binding(name: string): Record<string, unknown> }).binding(
      'stream_wrap',
    )
    const array = binding.streamBaseState
    const length = binding.kReadBytesOrError
    if (!(array instanceof Int32Array) || typeof length !== 'number') return undefined
    return { array, length }
  } catch {
    return undefined
  }
}

export const readState: ReadState | undefined = loadReadState()

/** Takes the handle back from a net.Socket built over it, so destroying the socket leaves it open. */
export function detachHandle(socket: Socket): void {
  ;(socket as unknown as { _handle: unknown })._handle = null
}

/**
 * Calls `onAck(true)` when the child acknowledges a handle sent to it (NODE_HANDLE_ACK, sent by
 * Node before any user code of the child can touch it) and `onAck(false)` when it refuses one.
 */
export function onHandleAck(child: ChildProcess, onAck: (received: boolean) => void): void {
  child.on('internalMessage', (message: { cmd?: string } | null) => {
    if (message?.cmd === 'NODE_HANDLE_ACK') onAck(true)
    else if (message?.cmd === 'NODE_HANDLE_NACK') onAck(false)
  })
}

/**
 * True while the http server is answering a request on `socket`: http keeps the response in
 * flight as `socket._httpMessage`. Reading it costs nothing per request, unlike tracking every
 * response's end.
 */
export function responding(socket: Socket): boolean {
  return (socket as Socket & { _httpMessage?: unknown })._httpMessage != null
}

/** The net.Socket a TLSSocket was built on (tls keeps it as the handle's `_parentWrap`). */
export function wrappedSocket(socket: Socket): unknown {
  return (socket as Socket & { _handle?: { _parentWrap?: unknown } | null })._handle?._parentWrap
}

const CONNECTIONS_TRACKING = 'setupConnectionsTracking'

/**
 * Node arms an http server's headersTimeout/requestTimeout checks on 'listening', which a server
 * fed connections never emits; this starts them directly. False when this Node has no such hook.
 */
export function armRequestTimeouts(server: http.Server): boolean {
  const hook = server.listeners('listening').find((listener) => listener.name === CONNECTIONS_TRACKING)
  if (hook === undefined) return false
  ;(hook as () => void).call(server)
  return true
}

/**
 * What this Node.js lacks of the internals above, each with what it costs: empty on the tested
 * versions. The hand-off itself (onconnection) is checked when the primary listens, and throws.
 */
export function checkNodeInternals(): string[] {
  const missing: string[] = []
  if (readState === undefined && process.env.TETHER_PRIMARY_READER !== 'socket') {
    missing.push(
      "stream_wrap's read state (the primary reads heads through a net.Socket: more CPU per connection)",
    )
  }
  const server = http.createServer()
  if (!server.listeners('listening').some((listener) => listener.name === CONNECTIONS_TRACKING)) {
    missing.push(
      'http connection tracking (headersTimeout and requestTimeout are not enforced in the workers)',
    )
  }
  const socket = { writable: true, on: () => socket, destroyed: false } as unknown as Socket
  const response = new http.ServerResponse(new http.IncomingMessage(socket))
  try {
    response.assignSocket(socket)
    if (!responding(socket))
      missing.push("the socket's response in flight (draining cannot tell busy connections)")
  } catch {
    missing.push("the socket's response in flight (draining cannot tell busy connections)")
  }
  return missing
}
