import { expect } from 'chai'
import { HeadReader } from '../../packages/cluster/src/head/head-reader.js'

const HEAD =
  'POST /cart/items?x=1 HTTP/1.1\r\nHost: shop.example\r\nCookie: a=1\r\nCookie: tether.sid=abc\r\n' +
  'X-Forwarded-For: 203.0.113.9\r\nContent-Length: 4\r\n\r\n'
const REQUEST = Buffer.from(`${HEAD}body`, 'latin1')

function feed(reader: HeadReader, chunks: Buffer[]): string {
  let status = 'incomplete'
  for (const chunk of chunks) status = reader.push(chunk)
  return status
}

describe('HeadReader', () => {
  describe('incremental reading', () => {
    it('completes the head whatever byte offset the request is split at', () => {
      for (let offset = 0; offset <= REQUEST.length; offset++) {
        const reader = new HeadReader(16 * 1024)
        const status = feed(reader, [REQUEST.subarray(0, offset), REQUEST.subarray(offset)])
        expect(status, `split at ${offset}`).to.equal('complete')
        const bytes = reader.bytes()
        expect(bytes.length).to.be.at.least(HEAD.length)
        expect(bytes.equals(REQUEST.subarray(0, bytes.length))).to.equal(true)
        expect(reader.parse()!.target).to.equal('/cart/items?x=1')
      }
    })

    it('completes the head when it arrives one byte at a time, and not before its last byte', () => {
      const reader = new HeadReader(16 * 1024)
      for (let i = 0; i < HEAD.length; i++) {
        const status = reader.push(REQUEST.subarray(i, i + 1))
        expect(status, `byte ${i}`).to.equal(i === HEAD.length - 1 ? 'complete' : 'incomplete')
      }
    })

    it('parses method, target and the headers the router reads', () => {
      const reader = new HeadReader(16 * 1024)
      reader.push(REQUEST)
      const head = reader.parse()!
      expect(head.method).to.equal('POST')
      expect(head.headers.get('cookie')).to.equal('a=1; tether.sid=abc')
      expect(head.headers.get('x-forwarded-for')).to.equal('203.0.113.9')
    })

    it('strips only spaces and tabs around a value, so a UTF-8 value ending in byte 0xA0 stays whole', () => {
      const reader = new HeadReader(1024)
      reader.push(Buffer.from('GET / HTTP/1.1\r\nCookie: \t lang=fr-à \t\r\n\r\n', 'utf8'))
      const cookie = reader.parse()!.headers.get('cookie')!
      expect(Buffer.from(cookie, 'latin1').toString('utf8')).to.equal('lang=fr-à')
    })

    it('accepts bare LF line endings and ignores empty lines before the request line', () => {
      const reader = new HeadReader(1024)
      expect(reader.push(Buffer.from('\r\n\nGET / HTTP/1.1\nHost: x\n\n'))).to.equal('complete')
      expect(reader.parse()!.headers.get('host')).to.equal('x')
    })

    it('keeps body bytes that came with the head, binary-safe', () => {
      const body = Buffer.from([0, 255, 13, 10, 13, 10, 128])
      const reader = new HeadReader(1024)
      reader.push(Buffer.concat([Buffer.from('PUT /b HTTP/1.1\r\n\r\n'), body]))
      expect(reader.bytes().subarray(-body.length).equals(body)).to.equal(true)
    })
  })

  describe('limits', () => {
    it('reports too-large once more than maxSize bytes come without the end of the head', () => {
      const reader = new HeadReader(1024)
      expect(reader.push(Buffer.from('GET / HTTP/1.1\r\n'))).to.equal('incomplete')
      let status = 'incomplete'
      for (let i = 0; i < 100 && status === 'incomplete'; i++)
        status = reader.push(Buffer.from(`X-Pad-${i}: ${'a'.repeat(20)}\r\n`))
      expect(status).to.equal('too-large')
      expect(reader.received).to.be.below(1024 + 40)
    })

    it('reports too-large for a complete head longer than maxSize', () => {
      const reader = new HeadReader(64)
      expect(reader.push(Buffer.from(`GET / HTTP/1.1\r\nX: ${'a'.repeat(80)}\r\n\r\n`))).to.equal('too-large')
    })

    it('reports too-large for a request line ending past maxSize, however it was split', () => {
      const line = Buffer.from(`GET /${'a'.repeat(80)} HTTP/1.x\r\n\r\n`)
      const whole = new HeadReader(64)
      expect(whole.push(line)).to.equal('too-large')
      const bytewise = new HeadReader(64)
      expect(
        feed(
          bytewise,
          [...line].map((b) => Buffer.from([b])),
        ),
      ).to.equal('too-large')
    })

    it('reports bad-request at the first byte that cannot start a method', () => {
      expect(new HeadReader(1024).push(Buffer.from([0x16, 0x03, 0x01]))).to.equal('bad-request')
    })

    it('reports bad-request as soon as a malformed request line ends', () => {
      expect(new HeadReader(1024).push(Buffer.from('hello world\r\n'))).to.equal('bad-request')
      expect(new HeadReader(1024).push(Buffer.from('GET /\r\n'))).to.equal('bad-request')
      expect(new HeadReader(1024).push(Buffer.from('GET / HTTP/1.1 x\r\n'))).to.equal('bad-request')
    })

    it('refuses to parse a header line without a colon', () => {
      const reader = new HeadReader(1024)
      expect(reader.push(Buffer.from('GET / HTTP/1.1\r\nno colon here\r\n\r\n'))).to.equal('complete')
      expect(reader.parse()).to.equal(undefined)
    })
  })
})
