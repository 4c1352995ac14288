import type { WireChange } from './wire.js'

// The framing of the direct channel between two workers (see peer-link.ts and peer-listener.ts):
// each frame is a 4-byte little-endian length, a 1-byte kind and the body. A batch's body is its
// plan epoch then the changes as JSON (V8's JSON is faster than any encoder written in JS for
// these string-heavy arrays); an acknowledgement is binary, one count of missing records per
// batch it answers.

export const HELLO = 1
export const BATCH = 2
export const ACK = 3

/** Bytes before the body: length and kind. */
const HEADER = 5
/** Largest body accepted: far above any batch (1,000 changes), low enough to refuse a garbled length. */
export const MAX_FRAME = 64 * 1024 * 1024

function frame(kind: number, bodyLength: number): Buffer {
  const buffer = Buffer.allocUnsafe(HEADER + bodyLength)
  buffer.writeUInt32LE(bodyLength, 0)
  buffer[4] = kind
  return buffer
}

/** The first frame a connecting worker sends: the key the listener handed out through the primary. */
export function encodeHello(key: string): Buffer {
  const length = Buffer.byteLength(key)
  const buffer = frame(HELLO, length)
  buffer.write(key, HEADER, 'latin1')
  return buffer
}

export function encodeBatch(epoch: number, changes: readonly WireChange[]): Buffer {
  const json = JSON.stringify(changes)
  const length = Buffer.byteLength(json)
  const buffer = frame(BATCH, 4 + length)
  buffer.writeUInt32LE(epoch, HEADER)
  buffer.write(json, HEADER + 4, length, 'utf8')
  return buffer
}

export function decodeBatch(body: Buffer): { epoch: number; changes: WireChange[] } {
  return { epoch: body.readUInt32LE(0), changes: JSON.parse(body.toString('utf8', 4)) as WireChange[] }
}

/** Answers batches in the order they came: `gaps[i]` changes of the i-th had no record to apply to. */
export function encodeAck(gaps: readonly number[]): Buffer {
  const buffer = frame(ACK, 4 * gaps.length)
  for (let i = 0; i < gaps.length; i++) buffer.writeUInt32LE(gaps[i]!, HEADER + 4 * i)
  return buffer
}

export function decodeAck(body: Buffer): number[] {
  const gaps: number[] = []
  for (let offset = 0; offset + 4 <= body.length; offset += 4) gaps.push(body.readUInt32LE(offset))
  return gaps
}

/**
 * Cuts a byte stream into frames. Chunks are kept as they come and joined only once a whole frame
 * is there, so a large batch arriving in many chunks is copied once, not once per chunk.
 */
export class FrameReader {
  readonly #onFrame: (kind: number, body: Buffer) => void
  #chunks: Buffer[] = []
  #buffered = 0
  /** Bytes needed before the next frame can be cut: its header, then its header and body. */
  #needed = HEADER

  constructor(onFrame: (kind: number, body: Buffer) => void) {
    this.#onFrame = onFrame
  }

  /** Feeds bytes in; throws on a frame longer than MAX_FRAME (the stream is garbage: close it). */
  push(chunk: Buffer): void {
    this.#chunks.push(chunk)
    this.#buffered += chunk.length
    if (this.#buffered < this.#needed) return
    const data = this.#chunks.length === 1 ? chunk : Buffer.concat(this.#chunks, this.#buffered)
    let offset = 0
    this.#needed = HEADER
    while (data.length - offset >= HEADER) {
      const length = data.readUInt32LE(offset)
      if (length > MAX_FRAME) throw new RangeError(`frame of ${length} bytes`)
      if (data.length - offset - HEADER < length) {
        this.#needed = HEADER + length
        break
      }
      const start = offset + HEADER
      offset = start + length
      this.#onFrame(data[start - 1]!, data.subarray(start, offset))
    }
    const rest = data.subarray(offset)
    this.#chunks = rest.length === 0 ? [] : [rest]
    this.#buffered = rest.length
  }
}
