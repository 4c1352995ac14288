/** What a HeadReader says after each chunk. */
export type HeadStatus = 'incomplete' | 'complete' | 'too-large' | 'bad-request'

/** The parts of a request head the router looks at. */
export interface ParsedHead {
  readonly method: string
  /** The request target as sent (`/path?query`, or absolute-form). */
  readonly target: string
  /** Header values by lower-case name; repeated headers joined (Cookie with "; ", others ", "). */
  readonly headers: ReadonlyMap<string, string>
}

const LF = 10
const CR = 13

// RFC 9110 tchar, for the first byte of the method: anything else cannot be HTTP/1.x.
const TCHAR = new Uint8Array(256)
for (const ch of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") {
  TCHAR[ch.charCodeAt(0)] = 1
}
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([\x21-\x7e\x80-\xff]+) HTTP\/\d\.\d$/

/**
 * Reads an HTTP/1.x request head incrementally from raw chunks, however they are split (one byte
 * at a time works), without ever copying the bytes before the head is complete. Memory is bounded
 * by `maxSize` plus one socket read: once more than `maxSize` bytes arrive without the blank line
 * that ends the head, the answer is 'too-large'. A request line that cannot be HTTP is reported as
 * soon as it ends (or at its first byte), not after waiting for a head that will never come.
 *
 * @example
 * const reader = new HeadReader(16 * 1024)
 * socket.on('data', (chunk) => { if (reader.push(chunk) === 'complete') route(reader.parse()!, reader.bytes()) })
 */
export class HeadReader {
  readonly maxSize: number
  readonly #chunks: Buffer[] = []
  #received = 0
  /** 0: inside a line; 1: just after LF; 2: after LF CR. */
  #state = 0
  #started = false
  #requestLineEnd = -1
  #headEnd = -1
  #status: HeadStatus = 'incomplete'
  #joined: Buffer | undefined

  constructor(maxSize: number) {
    this.maxSize = maxSize
  }

  get status(): HeadStatus {
    return this.#status
  }

  /** Bytes received so far. */
  get received(): number {
    return this.#received
  }

  /** Takes the next chunk of the connection and says whether the head is complete. */
  push(chunk: Buffer): HeadStatus {
    if (this.#status !== 'incomplete') return this.#status
    const base = this.#received
    this.#chunks.push(chunk)
    this.#received += chunk.length
    let i = 0
    // RFC 9112 2.2: a server should ignore empty lines received before the request line.
    while (!this.#started && i < chunk.length) {
      const b = chunk[i]!
      if (b === CR || b === LF) {
        i++
        continue
      }
      if (TCHAR[b] !== 1) return this.#fail()
      this.#started = true
    }
    for (; i < chunk.length; i++) {
      const b = chunk[i]!
      if (this.#state === 0) {
        if (b !== LF) continue
        if (this.#requestLineEnd < 0) {
          this.#requestLineEnd = base + i
          // Past maxSize the answer is 'too-large' whatever the line says, as it is when the
          // bytes come one at a time (the size check then runs before this line ends).
          if (this.#requestLineEnd > this.maxSize) {
            this.#status = 'too-large'
            return this.#status
          }
          if (!REQUEST_LINE.test(this.#requestLine())) return this.#fail()
        }
        this.#state = 1
      } else if (b === LF) {
        this.#headEnd = base + i + 1
        break
      } else if (b === CR && this.#state === 1) {
        this.#state = 2
      } else {
        this.#state = 0
      }
    }
    if (this.#headEnd < 0) {
      if (this.#received > this.maxSize) this.#status = 'too-large'
      return this.#status
    }
    this.#status = this.#headEnd > this.maxSize ? 'too-large' : 'complete'
    return this.#status
  }

  /** Everything received so far, head and any body bytes after it, as one Buffer. */
  bytes(): Buffer {
    if (this.#joined === undefined || this.#joined.length !== this.#received) {
      this.#joined =
        this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#received)
      this.#chunks.length = 0
      this.#chunks.push(this.#joined)
    }
    return this.#joined
  }

  /**
   * The parsed head once complete; undefined before, or when a header line is malformed. With
   * `only`, just those headers (lower-case names) are collected, which saves the allocations of the
   * rest on the router's hot path.
   */
  parse(only?: ReadonlySet<string>): ParsedHead | undefined {
    if (this.#status !== 'complete') return undefined
    const text = this.bytes().toString('latin1', 0, this.#headEnd)
    let start = 0
    while (start < text.length && (text.charCodeAt(start) === CR || text.charCodeAt(start) === LF)) start++
    let end = text.indexOf('\n', start)
    const requestLine = stripCr(text.slice(start, end))
    const match = REQUEST_LINE.exec(requestLine)
    if (match === null) return undefined
    const headers = new Map<string, string>()
    for (start = end + 1; start < text.length; start = end + 1) {
      end = text.indexOf('\n', start)
      if (end < 0) end = text.length
      let lineEnd = end
      if (lineEnd > start && text.charCodeAt(lineEnd - 1) === CR) lineEnd--
      if (lineEnd === start) break // the blank line
      const colon = text.indexOf(':', start)
      // No colon, or whitespace before it: the worker's parser would reject it too (400).
      if (colon < 0 || colon >= lineEnd || colon === start) return undefined
      if (text.charCodeAt(colon - 1) === 32 || text.charCodeAt(start) === 32) return undefined
      const name = text.slice(start, colon).toLowerCase()
      if (only !== undefined && !only.has(name)) continue
      const value = trimOws(text, colon + 1, lineEnd)
      const previous = headers.get(name)
      headers.set(
        name,
        previous === undefined ? value : `${previous}${name === 'cookie' ? '; ' : ', '}${value}`,
      )
    }
    const target = requestLine.slice(match[1]!.length + 1, requestLine.length - 9)
    return { method: match[1]!, target, headers }
  }

  #fail(): HeadStatus {
    this.#status = 'bad-request'
    return this.#status
  }

  #requestLine(): string {
    const line = this.bytes().toString('latin1', 0, this.#requestLineEnd)
    return stripCr(line.replace(/^[\r\n]+/, ''))
  }
}

/**
 * `text[start, end)` without the optional whitespace (SP, HTAB) around it. Not String#trim, which
 * also strips NBSP: in latin1 that is byte 0xA0, the last byte of many UTF-8 characters ("à").
 */
function trimOws(text: string, start: number, end: number): string {
  let from = start
  let to = end
  while (from < to && isOws(text.charCodeAt(from))) from++
  while (to > from && isOws(text.charCodeAt(to - 1))) to--
  return text.slice(from, to)
}

function isOws(code: number): boolean {
  return code === 32 || code === 9
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line
}
