import { isIP, SocketAddress } from 'node:net'

/** `::ffff:192.0.2.1` -> `192.0.2.1`; other addresses unchanged. */
export function unmapAddress(address: string): string {
  return address.length > 7 && address.slice(0, 7).toLowerCase() === '::ffff:' && isIP(address.slice(7)) === 4
    ? address.slice(7)
    : address
}

/**
 * An address read from text a client or proxy wrote (PROXY headers, X-Forwarded-For) in the form
 * Node gives a socket's own: IPv6 compressed and in lower case (`2001:DB8:0:0:0:0:0:1` ->
 * `2001:db8::1`), IPv4-mapped unmapped. So one client hashes to one worker however its address
 * arrived. Anything that is not an address is returned unchanged.
 */
export function canonicalAddress(address: string): string {
  if (isIP(address) !== 6) return address
  return unmapAddress(new SocketAddress({ address, family: 'ipv6' }).address)
}
