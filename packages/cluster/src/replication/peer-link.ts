import { connect, type Socket } from 'node:net'
import { ACK, decodeAck, encodeBatch, encodeHello, FrameReader } from './peer-frames.js'
import type { WireChange } from './wire.js'

// One worker's connection to another worker's replication socket, for the batches it sends there.
// The backup answers the batches of one connection in the order they came, so what is in flight
// is a queue; when the connection closes (the backup died, or the bytes were garbled), everything
// still in flight is handed back as lost, to be sent again whole (see WorkerReplication). So is
// a connection that stops answering: its owner finishes batches in order, and one that never
// ends would hold up every later one.

/** Where a worker takes copies: its socket and the key a connection must open with. */
/**
 * How long a link may go without an answer while batches are in flight before it is given up. A
 * backup that is stopped or hung is killed by the heartbeat check sooner (by default); this is
 * the floor under everything else that can go wrong on the way.
 */
const STALL_MS = 5_000

export interface ReplicaPeer {
  readonly address: string
  readonly key: string
}

/** What a link carries for its owner: any object that says how many changes it holds. */
export interface LinkPart {
  readonly count: number
}

export interface PeerLinkEvents<P extends LinkPart> {
  /** The backup applied `part`; `gaps` of its changes had no record there. */
  answered(part: P, gaps: number): void
  /** The connection is gone with these parts unanswered. */
  lost(parts: P[]): void
}

export class PeerLink<P extends LinkPart> {
  readonly peer: ReplicaPeer
  readonly #socket: Socket
  readonly #events: PeerLinkEvents<P>
  readonly #inFlight: P[] = []
  /** Index of the oldest part in #inFlight still unanswered (a queue without shift()'s copies). */
  #head = 0
  #outstanding = 0
  #closed = false
  /** Runs while batches are in flight; pushed back by every answer. */
  #stall: NodeJS.Timeout | undefined

  constructor(peer: ReplicaPeer, events: PeerLinkEvents<P>) {
    this.peer = peer
    this.#events = events
    this.#socket = connect(peer.address)
    this.#socket.setNoDelay?.(true)
    // Written now, sent once connected: whatever is sent before then waits in the socket.
    this.#socket.write(encodeHello(peer.key))
    const reader = new FrameReader((kind, body) => {
      if (kind === ACK) this.#answered(decodeAck(body))
      else throw new TypeError(`unexpected frame ${kind}`)
    })
    this.#socket.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk)
      } catch {
        this.#socket.destroy()
      }
    })
    this.#socket.on('error', () => undefined) // 'close' follows and does the work
    this.#socket.on('close', () => this.#close())
  }

  get closed(): boolean {
    return this.#closed
  }

  /** Changes sent on this link and not yet answered. */
  get outstanding(): number {
    return this.#outstanding
  }

  /** Sends one batch for `part`; false when the link is closed (nothing was sent). */
  send(epoch: number, changes: readonly WireChange[], part: P): boolean {
    if (this.#closed) return false
    if (this.#inFlight.push(part) - this.#head === 1) this.#armStall()
    this.#outstanding += part.count
    this.#socket.write(encodeBatch(epoch, changes))
    return true
  }

  close(): void {
    this.#socket.destroy()
  }

  #answered(gaps: readonly number[]): void {
    for (const missing of gaps) {
      if (this.#head === this.#inFlight.length) break
      const part = this.#inFlight[this.#head++]!
      this.#outstanding -= part.count
      this.#events.answered(part, missing)
    }
    if (this.#head === this.#inFlight.length) {
      this.#inFlight.length = 0
      this.#head = 0
      clearTimeout(this.#stall)
      this.#stall = undefined
    } else if (gaps.length > 0) this.#armStall()
    if (this.#head > 1024) {
      this.#inFlight.splice(0, this.#head)
      this.#head = 0
    }
  }

  #armStall(): void {
    if (this.#stall !== undefined) this.#stall.refresh()
    else {
      this.#stall = setTimeout(() => this.#socket.destroy(), STALL_MS)
      this.#stall.unref()
    }
  }

  #close(): void {
    if (this.#closed) return
    this.#closed = true
    clearTimeout(this.#stall)
    const lost = this.#inFlight.slice(this.#head)
    this.#inFlight.length = 0
    this.#head = 0
    this.#outstanding = 0
    if (lost.length > 0) this.#events.lost(lost)
  }
}
