import { readSync } from 'node:fs'
import { Socket, type SocketConstructorOpts } from 'node:net'
import { type RejectReason, reject } from './http-responses.js'
import { detachHandle, readState, type TcpHandle } from './node-internals.js'

/**
 * Every head is read into this one buffer and copied out (the primary reads one connection at a
 * time), instead of libuv allocating a 64 KiB buffer and Node an ArrayBuffer for every read.
 */
const READ_BUFFER = Buffer.allocUnsafeSlow(64 * 1024)

const ignore = () => undefined

/** The first `n` bytes of READ_BUFFER, copied out (small ones into Node's shared pool). */
function copyRead(n: number): Buffer {
  const chunk = Buffer.allocUnsafe(n)
  READ_BUFFER.copy(chunk, 0, 0, n)
  return chunk
}

/**
 * A connection accepted by the primary, kept as the bare TCP handle: no net.Socket (and its
 * stream machinery) is built for the common case of reading a head and handing the handle on.
 * A net.Socket is built only to answer the client itself (400, 408, 431, 503), or to read when
 * Node's read state is not available.
 */
export class Connection {
  readonly handle: TcpHandle
  #closed = false
  #reading = false
  #address: string | undefined
  #port = 0
  /** The socket over the handle, once one was needed. */
  #socket: Socket | undefined

  constructor(handle: TcpHandle) {
    this.handle = handle
  }

  /** Closed here: by the client, by close(), or because it was handed over. */
  get closed(): boolean {
    return this.#closed
  }

  get remoteAddress(): string {
    if (this.#address === undefined) this.#peer()
    return this.#address ?? ''
  }

  get remotePort(): number {
    if (this.#address === undefined) this.#peer()
    return this.#port
  }

  /**
   * One read that does not wait: the bytes already there, undefined when there are none yet (or
   * on an error, which read() reports), null when the client already ended the connection.
   */
  tryRead(): Buffer | null | undefined {
    const fd = this.handle.fd
    if (readState === undefined || typeof fd !== 'number' || fd < 0) return undefined
    let n: number
    try {
      n = readSync(fd, READ_BUFFER, 0, READ_BUFFER.length, null)
    } catch {
      return undefined // EAGAIN: nothing yet
    }
    return n === 0 ? null : copyRead(n)
  }

  /**
   * Reads until stopReading(): `onData` for each chunk (the caller owns it), `onEnd` once if the
   * client ends or resets the connection first.
   */
  read(onData: (chunk: Buffer) => void, onEnd: () => void): void {
    this.#reading = true
    if (readState === undefined) {
      this.#readWithSocket(onData, onEnd)
      return
    }
    const { array, length } = readState
    const connection = this
    this.handle.useUserBuffer(READ_BUFFER)
    this.handle.onread = function onHandleRead() {
      const n = array[length]!
      if (n > 0) return onData(copyRead(n))
      if (n === 0) return // nothing this time (EAGAIN)
      connection.stopReading()
      onEnd() // EOF or an error such as ECONNRESET
    }
    if (this.handle.readStart() !== 0) onEnd()
  }

  /**
   * Stops reading at the handle: whatever arrives next stays in the kernel for the worker.
   * Returns bytes a fallback socket had buffered but not yet emitted (they follow the last chunk).
   */
  stopReading(): Buffer | undefined {
    if (!this.#reading) return undefined
    this.#reading = false
    const socket = this.#socket
    let rest: Buffer | undefined
    if (socket !== undefined) {
      this.#socket = undefined
      socket.pause()
      if (socket.readableLength > 0) rest = (socket.read(socket.readableLength) as Buffer | null) ?? undefined
      detachHandle(socket)
      socket.removeAllListeners('data')
      socket.removeAllListeners('end')
      socket.destroy() // a shell now: the handle is ours again
    }
    this.handle.readStop()
    this.handle.onread = ignore
    return rest
  }

  /** The worker has its own descriptor now: close ours (no shutdown: the connection lives on). */
  release(): void {
    this.close()
  }

  /** Closes the connection here (reset by the client, dropped on close(), or handed over). */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.stopReading()
    this.handle.close()
  }

  /** Answers the client with an error status and closes the connection. */
  reject(reason: RejectReason, retryAfterSeconds?: number): void {
    if (this.#closed) return
    this.stopReading()
    this.#closed = true // the socket owns the handle from here on
    // What the client still sends is read into a scratch buffer and dropped (see reject()). A
    // handle that reads into a user buffer (see read()) needs a socket that reads that way too.
    const socket = new Socket({
      handle: this.handle,
      readable: true,
      writable: true,
      onread: { buffer: READ_BUFFER, callback: () => true },
    } as SocketConstructorOpts)
    socket.on('error', ignore)
    reject(socket, reason, retryAfterSeconds)
  }

  #readWithSocket(onData: (chunk: Buffer) => void, onEnd: () => void): void {
    const socket = new Socket({
      handle: this.handle,
      readable: true,
      writable: true,
    } as SocketConstructorOpts)
    socket.on('error', ignore)
    this.#socket = socket
    socket.on('data', onData)
    // 'end' (the client finished sending) or 'close' (reset): the first one counts.
    const ended = () => {
      if (this.#socket !== socket) return
      this.#socket = undefined
      this.#closed = true
      socket.destroy()
      onEnd()
    }
    socket.on('end', ended)
    socket.on('close', ended)
  }

  #peer(): void {
    const out: { address?: string; port?: number } = {}
    if (!this.#closed) this.handle.getpeername(out)
    this.#address = out.address ?? ''
    this.#port = out.port ?? 0
  }
}
