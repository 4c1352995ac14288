import fc from 'fast-check'

/*
 * IP addresses for the PROXY and X-Forwarded-For targets, kept as their bytes so that the tests
 * know the answer without asking the code under test: any text form RFC 4291 allows (leading
 * zeros, either case, "::" over any run of zero groups, a dotted IPv4 tail), and the one form
 * Tether must give back, which is the form Node gives a socket's own address.
 */

/** An address as bytes: 4 for IPv4, 16 for IPv6. */
export interface Address {
  readonly bytes: readonly number[]
}

const byte = fc.integer({ min: 0, max: 255 })
export const ipv4: fc.Arbitrary<Address> = fc
  .array(byte, { minLength: 4, maxLength: 4 })
  .map((bytes) => ({ bytes }))

/** Zero groups are frequent, so that "::" has runs to replace. */
const group = fc.oneof(
  { weight: 3, arbitrary: fc.constant(0) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 0xffff }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 0xff }) },
)

function fromGroups(groups: readonly number[]): Address {
  return { bytes: groups.flatMap((g) => [g >> 8, g & 0xff]) }
}

function groupsOf(a: Address): number[] {
  return Array.from({ length: a.bytes.length / 2 }, (_, i) => (a.bytes[2 * i]! << 8) | a.bytes[2 * i + 1]!)
}

export const ipv6: fc.Arbitrary<Address> = fc.oneof(
  { weight: 4, arbitrary: fc.array(group, { minLength: 8, maxLength: 8 }).map(fromGroups) },
  // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d), which have forms of their own.
  ipv4.map((a) => ({ bytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...a.bytes] })),
  ipv4.map((a) => ({ bytes: [...new Array<number>(12).fill(0), ...a.bytes] })),
)

export const anyAddress = fc.oneof(ipv4, ipv6)

/** How to write an IPv6 address: all are valid text for the same bytes. */
export interface Spelling {
  readonly upper: boolean
  readonly leadingZeros: boolean
  readonly dottedTail: boolean
  /** Which run of zero groups "::" replaces (modulo the runs there are), or none. */
  readonly compress: number | undefined
}

export const spelling: fc.Arbitrary<Spelling> = fc.record({
  upper: fc.boolean(),
  leadingZeros: fc.boolean(),
  dottedTail: fc.boolean(),
  compress: fc.option(fc.nat(), { nil: undefined }),
})

const dotted = (bytes: readonly number[]) => bytes.join('.')

/** The address written the given way (IPv4 has one way: dotted decimal without leading zeros). */
export function written(a: Address, how: Spelling): string {
  if (a.bytes.length === 4) return dotted(a.bytes)
  const groups = groupsOf(a)
  const hex = (g: number) => {
    const h = how.leadingZeros ? g.toString(16).padStart(4, '0') : g.toString(16)
    return how.upper ? h.toUpperCase() : h
  }
  const tail = how.dottedTail ? [dotted(a.bytes.slice(12))] : groups.slice(6).map(hex)
  const parts = [...groups.slice(0, 6).map(hex), ...tail]
  const slots = how.dottedTail ? 7 : 8 // the dotted tail stands for two groups, and cannot be cut
  const runs = zeroRuns(groups.slice(0, slots === 7 ? 6 : 8))
  if (how.compress === undefined || runs.length === 0) return parts.join(':')
  const [start, length] = runs[how.compress % runs.length]!
  const left = parts.slice(0, start).join(':')
  const right = parts.slice(start + length).join(':')
  return `${left}::${right}`
}

/** [start, length] of every run of zero groups, one group long or more. */
function zeroRuns(groups: readonly number[]): [number, number][] {
  const runs: [number, number][] = []
  for (let i = 0; i < groups.length; i++) {
    if (groups[i] !== 0) continue
    let j = i
    while (j < groups.length && groups[j] === 0) j++
    runs.push([i, j - i])
    i = j
  }
  return runs
}

/**
 * The form Tether gives back: IPv4 dotted; IPv4-mapped IPv6 as its IPv4 address (Tether unmaps
 * it); the rest as Node writes a socket's IPv6 address (RFC 5952: lower case, no leading zeros,
 * "::" over the first longest run of two zero groups or more), including its one extra, the
 * IPv4-compatible ::a.b.c.d.
 */
export function canonical(a: Address): string {
  const b = a.bytes
  if (b.length === 4) return dotted(b)
  const groups = groupsOf(a)
  const zerosBefore = (n: number) => groups.slice(0, n).every((g) => g === 0)
  if (zerosBefore(5) && groups[5] === 0xffff) return dotted(b.slice(12))
  if (zerosBefore(6) && groups[6] !== 0) return `::${dotted(b.slice(12))}`
  let best: [number, number] | undefined
  for (const run of zeroRuns(groups)) if (run[1] >= 2 && (best === undefined || run[1] > best[1])) best = run
  const hex = groups.map((g) => g.toString(16))
  if (best === undefined) return hex.join(':')
  return `${hex.slice(0, best[0]).join(':')}::${hex.slice(best[0] + best[1]).join(':')}`
}

/** IPv4 in IPv6 rules, as Node's BlockList (and so Tether's trusted set) matches it. */
function asIpv6(a: Address): readonly number[] {
  return a.bytes.length === 16 ? a.bytes : [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...a.bytes]
}

/** What Tether compares: an IPv4-mapped IPv6 address is its IPv4 address. */
export function unmapped(a: Address): Address {
  const b = a.bytes
  const mapped = b.length === 16 && b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff
  return mapped ? { bytes: b.slice(12) } : a
}

/** A trusted proxy entry: an address, or a range of `bits` leading bits. */
export interface Range {
  readonly base: Address
  readonly bits: number
}

/** Whether `a` is in `range`: an IPv4 range holds IPv4 only; an IPv6 range holds IPv4 as mapped. */
export function contains(range: Range, address: Address): boolean {
  const a = unmapped(address)
  if (range.base.bytes.length === 4 && a.bytes.length !== 4) return false
  const bytes = range.base.bytes.length === 4 ? a.bytes : asIpv6(a)
  for (let bit = 0; bit < range.bits; bit++) {
    const mask = 0x80 >> (bit % 8)
    if ((bytes[bit >> 3]! & mask) !== (range.base.bytes[bit >> 3]! & mask)) return false
  }
  return true
}

/** An address inside `range`: its leading bits, the rest random. */
export function inside(range: Range, noise: readonly number[]): Address {
  const base = range.base.bytes
  const bytes = base.map((b, i) => {
    const kept = Math.max(0, Math.min(8, range.bits - i * 8))
    const mask = (0xff << (8 - kept)) & 0xff
    return (b & mask) | ((noise[i] ?? 0) & ~mask & 0xff)
  })
  return { bytes }
}
