import { isIP } from 'node:net'

/** `::ffff:192.0.2.1` -> `192.0.2.1`; other addresses unchanged. */
export function unmapAddress(address: string): string {
  return address.length > 7 && address.slice(0, 7).toLowerCase() === '::ffff:' && isIP(address.slice(7)) === 4
    ? address.slice(7)
    : address
}
