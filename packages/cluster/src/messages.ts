// The IPC messages between the primary and its workers. Every one carries `tether` so that they
// never collide with the app's own process.send() traffic.

/** Primary -> worker, with the socket handle: serve this connection. */
export interface ConnectionMessage {
  readonly tether: 'connection'
  /** The bytes the primary already read (the request head and maybe some body), base64. */
  readonly head: string
  /** Set when the connection was routed here for another route's sessions (their owner is down). */
  readonly connectionRoute?: string | undefined
  /** True when the first request's own session cookie chose this worker: it is not misrouted. */
  readonly byCookie?: boolean
}

/** Primary -> worker: finish your connections and exit. */
export interface DrainMessage {
  readonly tether: 'drain'
}

/** Worker -> primary: the app is built, send connections. */
export interface ReadyMessage {
  readonly tether: 'ready'
}

/** Worker -> primary, throttled: what the worker counts itself. */
export interface StatsMessage {
  readonly tether: 'stats'
  /** Connections open right now. */
  readonly connections: number
  /** Requests since start whose session belongs to another worker. */
  readonly misroutes: number
}

/** Worker -> primary, from the worker's event loop: still answering (see heartbeatTimeout). */
export interface HeartbeatMessage {
  readonly tether: 'heartbeat'
}

export type PrimaryMessage = ConnectionMessage | DrainMessage
export type WorkerMessage = ReadyMessage | StatsMessage | HeartbeatMessage

/** The environment variable naming a worker's slot index (its route is in TETHER_ROUTE). */
export const SLOT_ENV = 'TETHER_SLOT'

export function isTetherMessage(message: unknown): message is { tether: string } {
  return (
    typeof message === 'object' &&
    message !== null &&
    typeof (message as { tether?: unknown }).tether === 'string'
  )
}
