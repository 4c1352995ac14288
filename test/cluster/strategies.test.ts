import { expect } from 'chai'
import { unmapAddress } from '../../packages/cluster/src/address.js'
import { readProxyHeader } from '../../packages/cluster/src/head/proxy-header.js'
import { clientAddress, trustedProxies } from '../../packages/cluster/src/strategies/client-ip.js'

function head(headers: Record<string, string>) {
  return { method: 'GET', target: '/', headers: new Map(Object.entries(headers)) }
}

describe('routing strategies', () => {
  describe('client address (X-Forwarded-For)', () => {
    const trusted = trustedProxies(['10.0.0.0/8', 'fd00::/8', 'loopback'])

    it('uses the TCP peer when it is not a trusted proxy, whatever X-Forwarded-For says', () => {
      const input = {
        head: head({ 'x-forwarded-for': '1.1.1.1' }),
        peerAddress: '203.0.113.5',
        proxyAddress: undefined,
      }
      expect(clientAddress(input, trusted)).to.equal('203.0.113.5')
    })

    it('walks right to left past trusted hops to the first untrusted one', () => {
      const input = {
        head: head({ 'x-forwarded-for': 'spoofed, 198.51.100.7, 10.1.2.3, 10.0.0.9' }),
        peerAddress: '10.0.0.1',
        proxyAddress: undefined,
      }
      expect(clientAddress(input, trusted)).to.equal('198.51.100.7')
    })

    it('handles IPv6, bracketed forms with ports and IPv4-mapped addresses', () => {
      const v6 = {
        head: head({ 'x-forwarded-for': '2001:db8::1, fd00::2' }),
        peerAddress: '::1',
        proxyAddress: undefined,
      }
      expect(clientAddress(v6, trusted)).to.equal('2001:db8::1')
      const bracketed = {
        head: head({ 'x-forwarded-for': '[2001:db8::9]:4711' }),
        peerAddress: '::ffff:10.0.0.1',
        proxyAddress: undefined,
      }
      expect(clientAddress(bracketed, trusted)).to.equal('2001:db8::9')
      const mapped = {
        head: head({ 'x-forwarded-for': '::ffff:192.0.2.44, 192.0.2.1:80' }),
        peerAddress: '127.0.0.1',
        proxyAddress: undefined,
      }
      expect(clientAddress(mapped, trusted)).to.equal('192.0.2.1')
      expect(unmapAddress('::ffff:192.0.2.44')).to.equal('192.0.2.44')
      expect(unmapAddress('::1')).to.equal('::1')
    })

    it('stops at an entry that is not an address', () => {
      const input = {
        head: head({ 'x-forwarded-for': 'unknown, 10.0.0.3' }),
        peerAddress: '10.0.0.1',
        proxyAddress: undefined,
      }
      expect(clientAddress(input, trusted)).to.equal('10.0.0.3')
    })

    it('starts from the PROXY protocol address when there is one', () => {
      const input = { head: head({}), peerAddress: '10.0.0.1', proxyAddress: '198.51.100.20' }
      expect(clientAddress(input, trusted)).to.equal('198.51.100.20')
    })

    it('rejects bad trustedProxies entries with a TypeError naming the option', () => {
      expect(() => trustedProxies(['10.0.0.0/33'])).to.throw(TypeError, /trustedProxies/)
      expect(() => trustedProxies(['nope'])).to.throw(TypeError, /trustedProxies/)
      expect(() => trustedProxies(['10.0.0.1/'])).to.throw(TypeError, /trustedProxies/)
    })
  })

  describe('PROXY protocol headers', () => {
    it('reads v1 TCP4, TCP6 and UNKNOWN', () => {
      const v4 = Buffer.from('PROXY TCP4 198.51.100.1 10.0.0.1 51000 80\r\nGET / HTTP/1.1\r\n')
      expect(readProxyHeader(v4, 1024)).to.deep.equal({ status: 'ok', length: 43, address: '198.51.100.1' })
      const v6 = Buffer.from('PROXY TCP6 2001:db8::1 ::1 51000 80\r\n')
      expect(readProxyHeader(v6, 1024)).to.include({ status: 'ok', address: '2001:db8::1' })
      expect(readProxyHeader(Buffer.from('PROXY UNKNOWN\r\n'), 1024)).to.include({
        status: 'ok',
        address: undefined,
      })
    })

    it('waits for more bytes of a header, and says none for plain HTTP', () => {
      expect(readProxyHeader(Buffer.from('PRO'), 1024).status).to.equal('incomplete')
      expect(readProxyHeader(Buffer.from('PROXY TCP4 1.2'), 1024).status).to.equal('incomplete')
      expect(readProxyHeader(Buffer.from('GET / HTTP/1.1\r\n'), 1024).status).to.equal('none')
    })

    it('rejects malformed v1 headers', () => {
      expect(readProxyHeader(Buffer.from('PROXY TCP4 not-an-ip 10.0.0.1 1 2\r\n'), 1024).status).to.equal(
        'bad',
      )
      expect(readProxyHeader(Buffer.from(`PROXY ${'x'.repeat(120)}`), 1024).status).to.equal('bad')
    })

    it('rejects v1 ports outside 0-65535 or with leading zeros, and IPv6 zone ids', () => {
      for (const ports of ['65536 80', '51000 080', '-1 80', '51000 8o', '1e3 80', '51000 '])
        expect(
          readProxyHeader(Buffer.from(`PROXY TCP4 198.51.100.1 10.0.0.1 ${ports}\r\n`), 1024).status,
          ports,
        ).to.equal('bad')
      for (const ports of ['0 65535', '51000 80'])
        expect(
          readProxyHeader(Buffer.from(`PROXY TCP4 198.51.100.1 10.0.0.1 ${ports}\r\n`), 1024).status,
          ports,
        ).to.equal('ok')
      expect(readProxyHeader(Buffer.from('PROXY TCP6 fe80::1%eth0 ::1 51000 80\r\n'), 1024).status).to.equal(
        'bad',
      )
    })

    it('reads v2 binary headers (PROXY and LOCAL)', () => {
      const signature = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]
      const v4 = Buffer.from([
        ...signature,
        0x21,
        0x11,
        0,
        12,
        198,
        51,
        100,
        9,
        10,
        0,
        0,
        1,
        0xc3,
        0x50,
        0,
        80,
      ])
      expect(readProxyHeader(v4, 1024)).to.deep.equal({ status: 'ok', length: 28, address: '198.51.100.9' })
      expect(readProxyHeader(v4.subarray(0, 20), 1024).status).to.equal('incomplete')
      const local = Buffer.from([...signature, 0x20, 0x00, 0, 0])
      expect(readProxyHeader(local, 1024)).to.deep.equal({ status: 'ok', length: 16, address: undefined })
    })

    it('gives one client one address however it arrived: v1, v2 and X-Forwarded-For agree on IPv6', () => {
      const signature = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]
      /** A v2 PROXY header over TCP6 from `source` (8 groups) to ::1. */
      const v2From = (groups: number[]) => {
        const body = Buffer.alloc(36)
        for (const [i, group] of groups.entries()) body.writeUInt16BE(group, i * 2)
        body.writeUInt16BE(1, 30)
        return Buffer.concat([Buffer.from([...signature, 0x21, 0x21, 0, 36]), body])
      }
      // 2001:db8::1 as HAProxy sends it in v2: eight groups, no compression.
      expect(readProxyHeader(v2From([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]), 1024)).to.deep.equal({
        status: 'ok',
        length: 52,
        address: '2001:db8::1',
      })
      // An IPv4 client behind an IPv6 listener: ::ffff:198.51.100.9.
      expect(readProxyHeader(v2From([0, 0, 0, 0, 0, 0xffff, 0xc633, 0x6409]), 1024)).to.include({
        address: '198.51.100.9',
      })
      // v1 in upper case and uncompressed, and X-Forwarded-For the same way.
      const v1 = Buffer.from('PROXY TCP6 2001:DB8:0:0:0:0:0:1 ::1 51000 80\r\n')
      expect(readProxyHeader(v1, 1024)).to.include({ address: '2001:db8::1' })
      const forwarded = {
        head: head({ 'x-forwarded-for': '2001:0DB8:0000::0001' }),
        peerAddress: '::1',
        proxyAddress: undefined,
      }
      expect(clientAddress(forwarded, trustedProxies(['loopback']))).to.equal('2001:db8::1')
    })
  })
})
