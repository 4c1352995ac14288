import { isIP } from 'node:net'
import { expect } from 'chai'
import fc from 'fast-check'
import { readProxyHeader } from '../../packages/cluster/src/head/proxy-header.js'
import { type Address, anyAddress, canonical, ipv4, ipv6, spelling, written } from './addresses.js'
import { fuzzProperty } from './budget.js'

const TARGET = 'PROXY v1/v2 parser'
const V2 = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a])
const bytes = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
  fc
    .tuple(
      fc.constantFrom('PROXY TCP4 ', 'PROXY TCP6 ', 'PROXY UNKNOWN', 'PROXY '),
      fc.string({ unit: 'binary-ascii', maxLength: 110 }),
    )
    .map(([p, s]) => Buffer.from(p + s, 'latin1')),
  fc.tuple(fc.ipV4(), fc.ipV4()).map(([a, b]) => Buffer.from(`PROXY TCP4 ${a} ${b} 1 2\r\nGET /`, 'latin1')),
  fc.uint8Array({ maxLength: 120 }).map((a) => Buffer.concat([V2, Buffer.from(a)])),
)

interface BuiltHeader {
  v1: boolean
  bytes: Buffer
  /** What the parser must find: the source address in canonical form, none for LOCAL/UNKNOWN. */
  address: string | undefined
}

const port = fc.integer({ min: 0, max: 65535 })

/** A v1 header as a proxy writes it, any spelling of IPv6 allowed. */
const v1: fc.Arbitrary<BuiltHeader> = fc
  .tuple(fc.boolean(), ipv4, ipv4, ipv6, ipv6, spelling, spelling, port, port)
  .map(([six, s4, d4, s6, d6, sSpelling, dSpelling, sport, dport]) => {
    const [family, source, destination] = six
      ? ['TCP6', written(s6, sSpelling), written(d6, dSpelling)]
      : ['TCP4', written(s4, sSpelling), written(d4, dSpelling)]
    return {
      v1: true,
      bytes: Buffer.from(`PROXY ${family} ${source} ${destination} ${sport} ${dport}\r\n`, 'latin1'),
      address: canonical(six ? s6 : s4),
    }
  })

/** A v2 header: PROXY (TCP or UDP, IPv4 or IPv6) or LOCAL, with TLVs after the addresses. */
const v2: fc.Arbitrary<BuiltHeader> = fc
  .tuple(fc.boolean(), anyAddress, fc.constantFrom(1, 2), port, port, fc.uint8Array({ maxLength: 60 }))
  .chain(([local, source, transport, sport, dport, tlvs]) =>
    (source.bytes.length === 4 ? ipv4 : ipv6).map((destination: Address) => {
      const family = source.bytes.length === 4 ? 1 : 2
      const ports = Buffer.alloc(4)
      ports.writeUInt16BE(sport, 0)
      ports.writeUInt16BE(dport, 2)
      const body = Buffer.concat([Buffer.from(source.bytes), Buffer.from(destination.bytes), ports, tlvs])
      const fixed = Buffer.from([
        local ? 0x20 : 0x21,
        (family << 4) | transport,
        body.length >> 8,
        body.length & 0xff,
      ])
      return {
        v1: false,
        bytes: Buffer.concat([V2, fixed, body]),
        address: local ? undefined : canonical(source),
      }
    }),
  )

const header = fc.oneof(v1, v2)

describe('fuzz: PROXY protocol parser', () => {
  it('answers one of its results for any bytes, and the same for every longer prefix once decided', () =>
    fuzzProperty(TARGET, 0.5, bytes, fc.nat(), (buffer, cut) => {
      const whole = readProxyHeader(buffer, 1024)
      expect(['incomplete', 'none', 'bad', 'ok']).to.include(whole.status)
      if (whole.status === 'ok') {
        expect(whole.length).to.be.at.most(buffer.length)
        if (whole.address !== undefined) expect(isIP(whole.address)).to.not.equal(0)
      }
      const prefix = readProxyHeader(buffer.subarray(0, cut % (buffer.length + 1)), 1024)
      if (prefix.status !== 'incomplete')
        expect(prefix.status).to.equal(whole.status === 'incomplete' ? prefix.status : whole.status)
    }))

  it('reads back the client address of any v1 or v2 header, IPv6 in canonical form', () =>
    fuzzProperty(TARGET, 0.5, header, fc.uint8Array({ maxLength: 40 }), fc.nat(), (h, payload, cut) => {
      const buffer = Buffer.concat([h.bytes, payload])
      const read = readProxyHeader(buffer, 1024)
      // The spec bounds a v1 line at 107 bytes: enough for any address in its shortest form, not
      // for one spelled out with leading zeros and a dotted tail.
      if (h.v1 && h.bytes.length > 107) {
        expect(read.status).to.equal('bad')
        return
      }
      expect(read, h.bytes.toString('latin1')).to.deep.equal({
        status: 'ok',
        length: h.bytes.length,
        address: h.address,
      })
      // Any part of the header is not enough to decide.
      expect(readProxyHeader(h.bytes.subarray(0, cut % h.bytes.length), 1024).status).to.equal('incomplete')
    }))
})
