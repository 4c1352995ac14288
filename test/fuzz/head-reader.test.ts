import { expect } from 'chai'
import fc from 'fast-check'
import { HeadReader, type HeadStatus, type ParsedHead } from '../../packages/cluster/src/head/head-reader.js'
import { fuzzProperty } from './budget.js'
import { anyRequestBytes, chunking, expectedHeaders, generatedHead, headBytes, split } from './http-heads.js'

const TARGET = 'head reader'
const STATUSES: readonly HeadStatus[] = ['incomplete', 'complete', 'too-large', 'bad-request']

interface Outcome {
  status: HeadStatus
  parsed: { method: string; target: string; headers: [string, string][] } | undefined
  bytes: Buffer
}

function plain(head: ParsedHead | undefined): Outcome['parsed'] {
  return head && { method: head.method, target: head.target, headers: [...head.headers] }
}

/** Pushes chunks until the reader decides, as the primary does, and says what it saw. */
function read(chunks: readonly Buffer[], maxSize: number): Outcome {
  const reader = new HeadReader(maxSize)
  let status: HeadStatus = 'incomplete'
  for (const chunk of chunks) {
    status = reader.push(chunk)
    if (status !== 'incomplete') break
  }
  return { status, parsed: plain(reader.parse()), bytes: reader.bytes() }
}

describe('fuzz: HeadReader', () => {
  it('gives the same answer however the bytes are split, and keeps only what was pushed', () =>
    fuzzProperty(
      TARGET,
      0.4,
      anyRequestBytes,
      chunking,
      fc.constantFrom(64, 256, 16 * 1024),
      (bytes, sizes, maxSize) => {
        const whole = read([bytes], maxSize)
        const chunks = split(bytes, sizes)
        const pieces = read(chunks, maxSize)
        expect(STATUSES).to.include(pieces.status)
        expect(pieces.status).to.equal(whole.status)
        expect(pieces.parsed).to.deep.equal(whole.parsed)
        expect(bytes.subarray(0, pieces.bytes.length).equals(pieces.bytes)).to.equal(true)
        // Memory stays bounded: at most maxSize plus the chunk that crossed it.
        const largest = Math.max(0, ...chunks.map((c) => c.length))
        expect(pieces.bytes.length).to.be.at.most(maxSize + largest)
      },
    ))

  it('parses every well-formed head exactly, bare-LF line ends and empty leading lines included', () =>
    fuzzProperty(TARGET, 0.3, generatedHead, chunking, (head, sizes) => {
      const bytes = headBytes(head)
      const outcome = read(split(bytes, sizes), 64 * 1024)
      expect(outcome.status).to.equal('complete')
      expect(outcome.parsed).to.deep.equal({
        method: head.method,
        target: head.target,
        headers: [...expectedHeaders(head)],
      })
    }))

  it('answers too-large for huge heads, within maxSize plus one chunk', () =>
    fuzzProperty(
      TARGET,
      0.1,
      fc.integer({ min: 1, max: 400 }),
      fc.integer({ min: 1, max: 2000 }),
      fc.integer({ min: 16, max: 4096 }),
      (lines, lineLength, chunkSize) => {
        const maxSize = 8 * 1024
        const line = `X-Filler: ${'v'.repeat(lineLength)}\r\n`
        const bytes = Buffer.from(`GET / HTTP/1.1\r\n${line.repeat(lines)}\r\n`, 'latin1')
        const outcome = read(split(bytes, [chunkSize]), maxSize)
        expect(outcome.status).to.equal(bytes.length > maxSize ? 'too-large' : 'complete')
        expect(outcome.bytes.length).to.be.at.most(maxSize + chunkSize)
      },
    ))

  it('settles on its first answer: later chunks change nothing', () =>
    fuzzProperty(TARGET, 0.2, anyRequestBytes, fc.uint8Array({ maxLength: 64 }), (bytes, more) => {
      const reader = new HeadReader(256)
      const status = reader.push(bytes)
      if (status === 'incomplete') return
      const parsed = plain(reader.parse())
      const received = reader.received
      expect(reader.push(Buffer.from(more))).to.equal(status)
      expect(reader.received).to.equal(received)
      expect(plain(reader.parse())).to.deep.equal(parsed)
    }))
})
