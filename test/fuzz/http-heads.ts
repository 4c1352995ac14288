import fc from 'fast-check'

/*
 * Request heads for the head reader's fuzz tests: well-formed ones built from parts (so the
 * expected parse is known), mutations of them (bytes inserted, dropped, replaced; lines repeated
 * or folded; CRLF turned into LF), raw binary, and ways to cut any of them into chunks.
 */

/** A header as generated: the name as sent, and the value with the whitespace around it. */
export interface GeneratedHeader {
  readonly name: string
  readonly value: string
}

export interface GeneratedHead {
  readonly method: string
  readonly target: string
  readonly version: string
  readonly headers: readonly GeneratedHeader[]
  readonly lineEnd: '\r\n' | '\n'
  readonly leadingEmptyLines: number
}

const TCHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".split('')
const token = fc.string({ unit: fc.constantFrom(...TCHARS), minLength: 1, maxLength: 12 })

function randomCase(name: string): fc.Arbitrary<string> {
  return fc
    .array(fc.boolean(), { minLength: name.length, maxLength: name.length })
    .map((upper) => [...name].map((c, i) => (upper[i] ? c.toUpperCase() : c.toLowerCase())).join(''))
}

/** UTF-8 text as the latin1 string of its bytes: what arrives on the wire for unicode. */
const utf8Bytes = fc.string({ unit: 'grapheme', maxLength: 8 }).map((s) => Buffer.from(s).toString('latin1'))

/** Bytes a header value may hold (VCHAR and obs-text), no whitespace at either end. */
const visible = fc.string({
  unit: fc.oneof(
    fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
    fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)),
  ),
  maxLength: 24,
})
const inner = fc
  .array(fc.oneof(visible, utf8Bytes, fc.constantFrom(' ', '\t', ', ', '; ')), { maxLength: 6 })
  .map((parts) => parts.join('').replace(/^[ \t]+|[ \t]+$/g, ''))
const ows = fc.constantFrom('', ' ', '  ', '\t', ' \t')

const ip = fc.oneof(fc.ipV4(), fc.ipV6(), fc.constantFrom('10.0.0.1', '127.0.0.1', '::1', '[::1]:80'))
const cookieValue = fc.oneof(
  fc.constant(`${'A'.repeat(43)}.w1.${'B'.repeat(22)}`),
  fc.string({ unit: fc.constantFrom(...'abcXYZ019-_.="'.split('')), maxLength: 40 }),
)
const cookieHeader = fc
  .array(fc.tuple(fc.constantFrom('tether.sid', '__Host-tether.sid', 'a', 'b'), cookieValue), {
    maxLength: 5,
  })
  .map((pairs) => pairs.map(([n, v]) => `${n}=${v}`).join('; '))

const header: fc.Arbitrary<GeneratedHeader> = fc.oneof(
  fc.record({ name: randomCase('cookie'), value: fc.tuple(ows, cookieHeader, ows).map((p) => p.join('')) }),
  fc.record({
    name: randomCase('x-forwarded-for'),
    value: fc.tuple(ows, fc.array(ip, { maxLength: 4 }), ows).map(([a, l, b]) => `${a}${l.join(', ')}${b}`),
  }),
  fc.record({ name: fc.constant('Host'), value: fc.constantFrom('shop.example', '127.0.0.1:8080') }),
  fc.record({ name: token, value: fc.tuple(ows, inner, ows).map((p) => p.join('')) }),
)

export const generatedHead: fc.Arbitrary<GeneratedHead> = fc.record({
  method: fc.oneof(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH'), token),
  target: fc.oneof(
    fc.webPath().map((p) => (p.startsWith('/') ? p : `/${p}`)),
    fc.tuple(fc.webPath(), fc.webQueryParameters()).map(([p, q]) => `/${p.replace(/^\//, '')}?${q}`),
    fc.constant('*'),
    fc.webUrl(),
  ),
  version: fc.constantFrom('HTTP/1.1', 'HTTP/1.0'),
  headers: fc.array(header, { maxLength: 8 }),
  lineEnd: fc.constantFrom('\r\n', '\r\n', '\r\n', '\n'),
  leadingEmptyLines: fc.constantFrom(0, 0, 0, 1, 2),
})

/** The bytes of a generated head, the blank line included. */
export function headBytes(head: GeneratedHead): Buffer {
  const eol = head.lineEnd
  const lines = [
    `${head.method} ${head.target} ${head.version}`,
    ...head.headers.map((h) => `${h.name}:${h.value}`),
  ]
  return Buffer.from(`${eol.repeat(head.leadingEmptyLines)}${lines.join(eol)}${eol}${eol}`, 'latin1')
}

/** The headers a correct parser reports: lower-case names, repeated ones joined in order. */
export function expectedHeaders(head: GeneratedHead): Map<string, string> {
  const headers = new Map<string, string>()
  for (const h of head.headers) {
    const name = h.name.toLowerCase()
    const value = h.value.replace(/^[ \t]+|[ \t]+$/g, '')
    const previous = headers.get(name)
    headers.set(
      name,
      previous === undefined ? value : `${previous}${name === 'cookie' ? '; ' : ', '}${value}`,
    )
  }
  return headers
}

/** Bytes that break parsers: line ends, whitespace, separators, NUL, DEL, obs-text. */
const NASTY = [0x0d, 0x0a, 0x20, 0x09, 0x3a, 0x2c, 0x3b, 0x22, 0x00, 0x7f, 0x80, 0xa0, 0xff, 0x0b, 0x0c]
const nastyByte = fc.oneof(fc.constantFrom(...NASTY), fc.integer({ min: 0, max: 255 }))

type Mutation = (bytes: Buffer) => Buffer

const at = (bytes: Buffer, position: number) => Math.min(position, bytes.length)
const splice = (bytes: Buffer, start: number, end: number, insert: Buffer) =>
  Buffer.concat([bytes.subarray(0, start), insert, bytes.subarray(end)])

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(fc.nat(), nastyByte).map(
    ([p, b]): Mutation =>
      (x) =>
        splice(x, at(x, p), at(x, p), Buffer.from([b])),
  ),
  fc.tuple(fc.nat(), fc.integer({ min: 1, max: 4 })).map(
    ([p, n]): Mutation =>
      (x) =>
        splice(x, at(x, p), at(x, p + n), Buffer.alloc(0)),
  ),
  fc.tuple(fc.nat(), nastyByte).map(
    ([p, b]): Mutation =>
      (x) =>
        splice(x, at(x, p), at(x, p + 1), Buffer.from([b])),
  ),
  // A folded line (obs-fold) or a repeated slice, such as a duplicated header line.
  fc.tuple(fc.nat(), fc.constantFrom('\r\n ', '\r\n\t', '\n ')).map(
    ([p, f]): Mutation =>
      (x) =>
        splice(x, at(x, p), at(x, p), Buffer.from(f)),
  ),
  fc.tuple(fc.nat(), fc.integer({ min: 1, max: 40 })).map(
    ([p, n]): Mutation =>
      (x) => {
        const start = at(x, p)
        return splice(x, start, start, x.subarray(start, at(x, start + n)))
      },
  ),
  fc.constant<Mutation>((x) => Buffer.from(x.toString('latin1').replaceAll('\r\n', '\n'), 'latin1')),
)

/** Bytes from `source` with one to four mutations applied. */
export function mutationsOf(source: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> {
  return fc
    .tuple(source, fc.array(mutation, { minLength: 1, maxLength: 4 }))
    .map(([bytes, mutations]) => mutations.reduce((b, m) => m(b), bytes))
}

/** A generated head with one to four mutations applied. */
export const mutatedHead: fc.Arbitrary<Buffer> = mutationsOf(generatedHead.map(headBytes))

/** Anything at all: binary, mutated heads, valid heads with body bytes after them. */
export const anyRequestBytes: fc.Arbitrary<Buffer> = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  mutatedHead,
  fc
    .tuple(generatedHead, fc.uint8Array({ maxLength: 40 }))
    .map(([h, body]) => Buffer.concat([headBytes(h), body])),
)

/** Cut points for `bytes`: chunks of random sizes, or one byte at a time. */
export const chunking = fc.oneof(
  fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 40 }),
  fc.constant([1]),
)

/** `bytes` in chunks of the given sizes, repeating the sizes as needed. */
export function split(bytes: Buffer, sizes: readonly number[]): Buffer[] {
  const chunks: Buffer[] = []
  for (let start = 0, i = 0; start < bytes.length; i++) {
    const size = sizes[i % sizes.length]!
    chunks.push(bytes.subarray(start, start + size))
    start += size
  }
  return chunks
}
