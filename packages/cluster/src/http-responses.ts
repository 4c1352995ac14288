import type { Socket } from 'node:net'

/** Why the primary answered a connection itself instead of handing it to a worker. */
export type RejectReason = 'badRequest' | 'timeout' | 'tooLarge' | 'unavailable'

const STATUS: Record<RejectReason, [number, string]> = {
  badRequest: [400, 'Bad Request'],
  timeout: [408, 'Request Timeout'],
  tooLarge: [431, 'Request Header Fields Too Large'],
  unavailable: [503, 'Service Unavailable'],
}

/**
 * A complete HTTP/1.1 error response that closes the connection. A 503 carries `Retry-After`
 * (seconds) so clients and proxies know it is temporary.
 */
export function errorResponse(reason: RejectReason, retryAfterSeconds = 1): Buffer {
  const [status, text] = STATUS[reason]
  const body = `${status} ${text}\n`
  let head = `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n`
  head += `Content-Length: ${Buffer.byteLength(body)}\r\nDate: ${new Date().toUTCString()}\r\n`
  if (reason === 'unavailable') head += `Retry-After: ${retryAfterSeconds}\r\n`
  return Buffer.from(`${head}\r\n${body}`, 'latin1')
}

/** How long a rejected connection may linger so the client reads the response before the close. */
const LINGER_MS = 2_000

/**
 * Sends an error response and closes the socket. Whatever the client still sends is read and
 * dropped (closing with unread data would reset the connection and could destroy the response
 * before the client reads it), for at most a couple of seconds.
 */
export function reject(socket: Socket, reason: RejectReason, retryAfterSeconds?: number): void {
  if (socket.destroyed) return
  socket.removeAllListeners('data')
  socket.on('data', () => undefined)
  socket.resume()
  socket.end(errorResponse(reason, retryAfterSeconds))
  const timer = setTimeout(() => socket.destroy(), LINGER_MS)
  timer.unref()
  socket.once('close', () => clearTimeout(timer))
}
