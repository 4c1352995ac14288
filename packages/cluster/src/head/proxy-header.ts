import { isIP } from 'node:net'
import { canonicalAddress } from '../address.js'

/** Result of looking for a PROXY protocol header at the start of a connection. */
export type ProxyHeader =
  | { readonly status: 'incomplete' }
  | { readonly status: 'none' }
  | { readonly status: 'bad' }
  /** `length` bytes are the header; `address` is the client's, absent for LOCAL/UNKNOWN. */
  | { readonly status: 'ok'; readonly length: number; readonly address: string | undefined }

const V1_PREFIX = Buffer.from('PROXY ', 'latin1')
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a])
/** The longest v1 header, CRLF included (spec section 2.1). */
const V1_MAX = 107
/** A v1 port: 0 to 65535 in decimal, without leading zeros (spec section 2.1). */
const V1_PORT = /^(?:0|[1-9][0-9]{0,4})$/

function isV1Port(field: string | undefined): boolean {
  return field !== undefined && V1_PORT.test(field) && Number(field) <= 65535
}

/** A v1 address of the family: plain, as the spec writes them (no IPv6 zone id, which isIP takes). */
function isV1Address(field: string | undefined, family: 4 | 6): boolean {
  return field !== undefined && !field.includes('%') && isIP(field) === family
}

function startsLike(buffer: Buffer, prefix: Buffer): 'yes' | 'no' | 'maybe' {
  const n = Math.min(buffer.length, prefix.length)
  if (buffer.compare(prefix, 0, n, 0, n) !== 0) return 'no'
  return buffer.length >= prefix.length ? 'yes' : 'maybe'
}

/**
 * Reads a PROXY protocol v1 (text) or v2 (binary) header at the start of `buffer`, as HAProxy
 * and cloud load balancers send it. Never reads more than `maxLength` bytes for v2's TLVs.
 */
export function readProxyHeader(buffer: Buffer, maxLength: number): ProxyHeader {
  const v1 = startsLike(buffer, V1_PREFIX)
  if (v1 !== 'no') {
    if (v1 === 'maybe') return { status: 'incomplete' }
    const end = buffer.indexOf('\r\n', 0, 'latin1')
    if (end < 0) return buffer.length >= V1_MAX ? { status: 'bad' } : { status: 'incomplete' }
    if (end + 2 > V1_MAX) return { status: 'bad' }
    const fields = buffer.toString('latin1', 0, end).split(' ')
    const length = end + 2
    if (fields[1] === 'UNKNOWN') return { status: 'ok', length, address: undefined }
    const family = fields[1] === 'TCP4' ? 4 : fields[1] === 'TCP6' ? 6 : 0
    if (
      fields.length !== 6 ||
      family === 0 ||
      !isV1Address(fields[2], family) ||
      !isV1Address(fields[3], family) ||
      !isV1Port(fields[4]) ||
      !isV1Port(fields[5])
    ) {
      return { status: 'bad' }
    }
    return { status: 'ok', length, address: canonicalAddress(fields[2]!) }
  }
  const v2 = startsLike(buffer, V2_SIGNATURE)
  if (v2 === 'no') return { status: 'none' }
  if (buffer.length < 16) return { status: 'incomplete' }
  const versionCommand = buffer[12]!
  if (versionCommand >> 4 !== 2) return { status: 'bad' }
  const length = 16 + buffer.readUInt16BE(14)
  if (length > maxLength) return { status: 'bad' }
  if (buffer.length < length) return { status: 'incomplete' }
  const command = versionCommand & 0x0f
  if (command === 0) return { status: 'ok', length, address: undefined } // LOCAL: a health check
  if (command !== 1) return { status: 'bad' }
  const family = buffer[13]! >> 4
  if (family === 1 && length >= 16 + 12) {
    return { status: 'ok', length, address: Array.from(buffer.subarray(16, 20)).join('.') }
  }
  if (family === 2 && length >= 16 + 36) {
    const groups: string[] = []
    for (let i = 0; i < 8; i++) groups.push(buffer.readUInt16BE(16 + i * 2).toString(16))
    return { status: 'ok', length, address: canonicalAddress(groups.join(':')) }
  }
  return { status: 'ok', length, address: undefined } // AF_UNSPEC or UNIX: no usable address
}
