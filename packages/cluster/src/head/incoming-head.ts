import type { RejectReason } from '../http-responses.js'
import { HeadReader, type ParsedHead } from './head-reader.js'
import { readProxyHeader } from './proxy-header.js'

/** The only headers the strategies read; the head parser skips the others. */
const ROUTING_HEADERS: ReadonlySet<string> = new Set(['cookie', 'x-forwarded-for'])

const EMPTY = Buffer.alloc(0)

/**
 * What the primary reads of one connection before routing it: an optional PROXY protocol header
 * (v1 or v2, only from a trusted peer) and then the first request head, within `maxHeaderSize`.
 * Chunks come as the connection delivers them, however they are split.
 */
export class IncomingHead {
  readonly #reader: HeadReader
  readonly #maxHeaderSize: number
  /** Bytes of a PROXY header still incomplete; undefined once read (or when none is expected). */
  #proxyPending: Buffer | undefined
  /** The client address a trusted proxy announced. */
  proxyAddress: string | undefined

  constructor(maxHeaderSize: number, expectProxyHeader: boolean) {
    this.#maxHeaderSize = maxHeaderSize
    this.#reader = new HeadReader(maxHeaderSize)
    this.#proxyPending = expectProxyHeader ? EMPTY : undefined
  }

  /**
   * Takes the next chunk: undefined while the head is incomplete, then the parsed head, or the
   * reason to answer the client with an error instead.
   */
  push(data: Buffer): ParsedHead | RejectReason | undefined {
    let chunk = data
    if (this.#proxyPending !== undefined) {
      const buffered = this.#proxyPending.length === 0 ? chunk : Buffer.concat([this.#proxyPending, chunk])
      const proxy = readProxyHeader(buffered, this.#maxHeaderSize)
      if (proxy.status === 'incomplete') {
        this.#proxyPending = buffered
        return undefined
      }
      if (proxy.status === 'bad') return 'badRequest'
      this.#proxyPending = undefined
      if (proxy.status === 'ok') {
        this.proxyAddress = proxy.address
        chunk = buffered.subarray(proxy.length)
        if (chunk.length === 0) return undefined
      } else chunk = buffered
    }
    const status = this.#reader.push(chunk)
    if (status === 'incomplete') return undefined
    if (status === 'too-large') return 'tooLarge'
    if (status === 'bad-request') return 'badRequest'
    return this.#reader.parse(ROUTING_HEADERS) ?? 'badRequest'
  }

  /** The bytes of the request read so far (the PROXY header left out), for the worker to replay. */
  bytes(): Buffer {
    return this.#reader.bytes()
  }
}
