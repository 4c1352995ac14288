import { expect } from 'chai'
import fc from 'fast-check'
import { clientAddress, trustedProxies } from '../../packages/cluster/src/strategies/client-ip.js'
import {
  type Address,
  anyAddress,
  canonical,
  contains,
  inside,
  type Range,
  spelling,
  unmapped,
  written,
} from './addresses.js'
import { fuzzProperty } from './budget.js'

/*
 * The X-Forwarded-For walker against random trusted sets (single addresses, IPv4 and IPv6 ranges
 * of any length, 'loopback'), each written any valid way, and hops drawn from inside and outside
 * them. The expected address comes from a model that knows every address as bytes: from the
 * peer, if trusted, walk the header right to left past trusted hops; the first untrusted one is
 * the client; a hop that is no address stops the walk at the hop before it.
 */

const TARGET = 'X-Forwarded-For walker'
const LOOPBACK: Range[] = [
  { base: { bytes: [127, 0, 0, 0] }, bits: 8 },
  { base: { bytes: [...new Array<number>(15).fill(0), 1] }, bits: 128 },
]

interface Entry {
  text: string
  ranges: Range[]
}

const noise = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 16, maxLength: 16 })

const entry: fc.Arbitrary<Entry> = fc.oneof(
  { weight: 1, arbitrary: fc.constant({ text: 'loopback', ranges: LOOPBACK }) },
  {
    weight: 6,
    arbitrary: fc
      .tuple(anyAddress, fc.option(fc.integer({ min: 0, max: 128 }), { nil: undefined }), spelling)
      .map(([base, bits, how]): Entry => {
        const max = base.bytes.length * 8
        const prefix = bits === undefined ? undefined : bits % (max + 1)
        return {
          text: prefix === undefined ? written(base, how) : `${written(base, how)}/${prefix}`,
          ranges: [{ base, bits: prefix ?? max }],
        }
      }),
  },
)

/** A hop as a proxy may write it, and the address in it (none for junk). */
interface Hop {
  text: string
  address: Address | undefined
}

function hopText(a: Address, how: Parameters<typeof written>[1], form: number, port: number): string {
  const text = written(a, how)
  if (a.bytes.length === 4) return form % 2 === 0 ? text : `${text}:${port}`
  return [text, `[${text}]`, `[${text}]:${port}`][form % 3]!
}

const junk = fc.oneof(
  fc.constantFrom(
    'unknown',
    '',
    ' ',
    '_hidden',
    'localhost',
    '1.2.3',
    '1.2.3.4.5',
    '256.1.1.1',
    '01.2.3.4',
    '[',
    '[]',
  ),
  fc.string({ unit: fc.constantFrom(...'ghijklmnop_-. '.split('')), maxLength: 10 }),
)

function hops(entries: readonly Entry[]): fc.Arbitrary<Hop[]> {
  const ranges = entries.flatMap((e) => e.ranges)
  const near =
    ranges.length === 0
      ? anyAddress
      : fc.tuple(fc.constantFrom(...ranges), noise).map(([range, n]) => inside(range, n))
  const hop: fc.Arbitrary<Hop> = fc.oneof(
    {
      weight: 8,
      arbitrary: fc
        .tuple(
          fc.oneof(near, anyAddress),
          spelling,
          fc.nat(),
          fc.integer({ min: 1, max: 65535 }),
          fc.constantFrom('', ' ', '\t'),
        )
        .map(([address, how, form, port, pad]) => ({
          text: `${pad}${hopText(address, how, form, port)}${pad}`,
          address,
        })),
    },
    { weight: 1, arbitrary: junk.map((text) => ({ text, address: undefined })) },
  )
  return fc.array(hop, { maxLength: 6 })
}

function trustedIn(entries: readonly Entry[], a: Address): boolean {
  return entries.some((e) => e.ranges.some((r) => contains(r, a)))
}

/** The model: the peer, or past it the first untrusted hop from the right. */
function expectedClient(entries: readonly Entry[], peer: Address, path: readonly Hop[] | undefined): string {
  let address = canonical(peer)
  if (!trustedIn(entries, peer) || path === undefined) return address
  for (let i = path.length - 1; i >= 0; i--) {
    const hop = path[i]!.address
    if (hop === undefined) break
    address = canonical(hop)
    if (!trustedIn(entries, hop)) break
  }
  return address
}

const setup = fc.array(entry, { maxLength: 5 }).chain((entries) =>
  fc.record({
    entries: fc.constant(entries),
    peer: fc.oneof(
      hops(entries).map((h) => h.find((x) => x.address)?.address ?? { bytes: [127, 0, 0, 1] }),
      anyAddress,
    ),
    path: fc.option(hops(entries), { nil: undefined }),
    forged: hops(entries),
    separator: fc.constantFrom(',', ', ', ' , '),
  }),
)

describe('fuzz: X-Forwarded-For walker', () => {
  it('finds the client the model finds, for any trusted set, and what a client writes left of an untrusted hop changes nothing', () =>
    fuzzProperty(TARGET, 1, setup, ({ entries, peer, path, forged, separator }) => {
      const trusted = trustedProxies(entries.map((e) => e.text))
      const input = (hopsWritten: readonly Hop[] | undefined) => ({
        head:
          hopsWritten === undefined
            ? undefined
            : {
                method: 'GET',
                target: '/',
                headers: new Map([['x-forwarded-for', hopsWritten.map((h) => h.text).join(separator)]]),
              },
        peerAddress: canonical(unmapped(peer)),
        proxyAddress: undefined,
      })
      const found = clientAddress(input(path), trusted)
      expect(found, JSON.stringify({ entries: entries.map((e) => e.text), path })).to.equal(
        expectedClient(entries, peer, path),
      )
      if (path !== undefined && path.length > 0 && !trusted.has(found)) {
        expect(clientAddress(input([...forged, ...path]), trusted)).to.equal(found)
      }
    }))
})
