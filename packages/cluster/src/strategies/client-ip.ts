import { BlockList, isIP } from 'node:net'
import { optionError } from '@tether/core/adapter'
import { canonicalAddress, unmapAddress } from '../address.js'
import type { Decision, RoutingInput, Strategy } from './strategy.js'

/** A set of trusted proxy addresses (single addresses or CIDR ranges, IPv4 or IPv6). */
export interface TrustedProxies {
  has(address: string): boolean
  readonly empty: boolean
}

/**
 * Builds the trusted proxy set from the `trustedProxies` option: addresses (`10.0.0.5`, `::1`),
 * CIDR ranges (`10.0.0.0/8`, `fd00::/8`), or `'loopback'` (127.0.0.0/8 and ::1).
 */
export function trustedProxies(entries: readonly string[] | undefined): TrustedProxies {
  const list = new BlockList()
  const given = entries ?? []
  if (!Array.isArray(given))
    throw optionError('trustedProxies', 'an array of IP addresses or CIDR ranges', given)
  for (const entry of given) {
    if (entry === 'loopback') {
      list.addSubnet('127.0.0.0', 8, 'ipv4')
      list.addAddress('::1', 'ipv6')
      continue
    }
    const [address = '', bits, extra] = typeof entry === 'string' ? entry.split('/') : []
    const family = isIP(address)
    const prefix = bits === undefined ? undefined : Number(bits)
    const max = family === 4 ? 32 : 128
    if (
      family === 0 ||
      extra !== undefined ||
      (prefix !== undefined && (!Number.isInteger(prefix) || prefix < 0 || prefix > max || bits === ''))
    ) {
      throw optionError(
        'trustedProxies',
        'an array of IP addresses, CIDR ranges ("10.0.0.0/8", "fd00::/8") or "loopback"',
        entry,
      )
    }
    const type = family === 4 ? 'ipv4' : 'ipv6'
    if (prefix === undefined) list.addAddress(address, type)
    else list.addSubnet(address, prefix, type)
  }
  return {
    empty: given.length === 0,
    has(address: string): boolean {
      const a = unmapAddress(address)
      const family = isIP(a)
      return family !== 0 && list.check(a, family === 4 ? 'ipv4' : 'ipv6')
    },
  }
}

/** One X-Forwarded-For element as an address: strips brackets and ports (`[::1]:80`, `1.2.3.4:80`). */
function forwardedAddress(element: string): string {
  let a = element.trim()
  if (a.startsWith('[')) {
    const end = a.indexOf(']')
    a = end > 0 ? a.slice(1, end) : a
  } else if (a.indexOf(':') > 0 && a.indexOf(':') === a.lastIndexOf(':')) {
    a = a.slice(0, a.indexOf(':'))
  }
  return canonicalAddress(a)
}

/**
 * The client's address: the TCP peer (or the address a trusted PROXY header gave), and, when that
 * is a trusted proxy, X-Forwarded-For walked from right to left past every trusted hop. Entries
 * left of the first untrusted hop were written by the client and are ignored.
 */
export function clientAddress(input: RoutingInput, trusted: TrustedProxies): string {
  let address = input.proxyAddress ?? input.peerAddress
  if (trusted.empty || !trusted.has(address)) return address
  const header = input.head?.headers.get('x-forwarded-for')
  if (header === undefined) return address
  const hops = header.split(',')
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = forwardedAddress(hops[i]!)
    if (isIP(hop) === 0) break
    address = hop
    if (!trusted.has(hop)) break
  }
  return address
}

/**
 * Consistent hashing of the client's address: a client keeps its worker while the worker lives,
 * without any cookie. Behind a proxy, configure `trustedProxies`, or every client would share
 * the proxy's address (and its worker).
 */
export function clientIpStrategy(trusted: TrustedProxies): Strategy {
  return function clientIp(input: RoutingInput): Decision {
    return { key: clientAddress(input, trusted) }
  }
}
