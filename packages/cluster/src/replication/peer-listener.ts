import { randomBytes, timingSafeEqual } from 'node:crypto'
import { mkdtempSync, rmdirSync, unlinkSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { BATCH, encodeAck, FrameReader, HELLO } from './peer-frames.js'
import type { ReplicaPeer } from './peer-link.js'

// The socket a worker takes copies on, straight from the other workers: batches of changes come
// in, and their acknowledgements go back on the same connection, without a detour through the
// primary. A Unix domain socket in a directory of its own that only this user can enter (a named
// pipe on Windows); the first frame of a connection must be the random key this worker gave the
// primary, who passes it only to the other workers of the cluster.

/** The prefix of each worker's socket directory in os.tmpdir(). */
const DIRECTORY_PREFIX = 'tether-replica-'
const SOCKET_NAME = 'replica.sock'
/** A connection that has not said hello by then is not a worker of this cluster. */
const HELLO_TIMEOUT_MS = 5_000

/** One worker's connection to this one: its batches arrive here, in order, and are answered here. */
export class IncomingLink {
  readonly #socket: Socket
  readonly #schedule: (send: () => void) => void
  #gaps: number[] = []

  constructor(socket: Socket, schedule: (send: () => void) => void) {
    this.#socket = socket
    this.#schedule = schedule
  }

  /** Answers the oldest batch not answered yet; answers leave together (see the schedule). */
  acknowledge(gaps: number): void {
    if (this.#gaps.push(gaps) > 1) return
    this.#schedule(() => {
      const answered = this.#gaps
      this.#gaps = []
      if (!this.#socket.destroyed) this.#socket.write(encodeAck(answered))
    })
  }

  /** Stops reading (a batch has to wait for a newer plan): the sender's socket fills, then its bound. */
  pause(): void {
    this.#socket.pause()
  }

  resume(): void {
    this.#socket.resume()
  }

  /** Drops the connection: its sender sees it close and sends those sessions again. */
  destroy(): void {
    this.#socket.destroy()
  }
}

export interface PeerListenerOptions {
  /** A batch arrived on `link` (its body, see decodeBatch); it must be acknowledged in order. */
  readonly onBatch: (body: Buffer, link: IncomingLink) => void
  /** When acknowledgements are sent: each turn ('sync', someone waits), or every few ms ('async'). */
  readonly schedule: (send: () => void) => void
}

export class PeerListener {
  readonly peer: ReplicaPeer
  readonly #server: Server
  readonly #sockets: Set<Socket>

  private constructor(server: Server, peer: ReplicaPeer, sockets: Set<Socket>) {
    this.#server = server
    this.peer = peer
    this.#sockets = sockets
  }

  /** Listens on a new socket; the process removes it when it exits. */
  static async open(options: PeerListenerOptions): Promise<PeerListener> {
    const key = randomBytes(24).toString('base64url')
    const expected = Buffer.from(key, 'latin1')
    const address =
      process.platform === 'win32'
        ? `\\\\.\\pipe\\${DIRECTORY_PREFIX}${process.pid}-${randomBytes(8).toString('hex')}`
        : join(mkdtempSync(join(tmpdir(), DIRECTORY_PREFIX)), SOCKET_NAME)
    const sockets = new Set<Socket>()
    const server = createServer((socket) => {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
      socket.on('error', () => undefined)
      accept(socket, expected, options)
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      // exclusive: in a cluster worker, a plain listen() is done by the primary, which would then
      // accept every connection and pass it on over IPC, and keep the socket after this worker died.
      server.listen({ path: address, exclusive: true }, () => {
        server.off('error', reject)
        resolve()
      })
    })
    server.unref()
    const listener = new PeerListener(server, { address, key }, sockets)
    process.once('exit', listener.#remove)
    return listener
  }

  /** Stops taking copies (a test's end; a worker just exits). */
  close(): void {
    this.#server.close()
    for (const socket of this.#sockets) socket.destroy()
    process.off('exit', this.#remove)
    this.#remove()
  }

  readonly #remove = () => removeReplicaSocket(this.peer.address)
}

function accept(socket: Socket, expected: Buffer, options: PeerListenerOptions): void {
  const link = new IncomingLink(socket, options.schedule)
  let greeted = false
  const timer = setTimeout(() => socket.destroy(), HELLO_TIMEOUT_MS)
  timer.unref()
  const reader = new FrameReader((kind, body) => {
    if (greeted && kind === BATCH) return options.onBatch(body, link)
    if (!greeted && kind === HELLO && body.length === expected.length && timingSafeEqual(body, expected)) {
      greeted = true
      clearTimeout(timer)
      return
    }
    throw new TypeError('not a replica peer')
  })
  socket.on('data', (chunk: Buffer) => {
    try {
      reader.push(chunk)
    } catch {
      // A stranger, or a garbled stream: the sender sees the connection close and resends.
      socket.destroy()
    }
  })
}

/**
 * Removes a worker's replica socket and its directory: at the worker's exit, and in the primary
 * after a worker that could not (killed). Only paths of the shape PeerListener makes.
 */
export function removeReplicaSocket(address: string): void {
  const directory = dirname(address)
  if (basename(address) !== SOCKET_NAME || !basename(directory).startsWith(DIRECTORY_PREFIX)) return
  try {
    unlinkSync(address)
  } catch {
    // Gone already.
  }
  try {
    rmdirSync(directory)
  } catch {
    // Gone already, or not empty: not ours to empty.
  }
}
