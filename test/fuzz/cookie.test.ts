import { expect } from 'chai'
import fc from 'fast-check'
import { readCookieValues } from '../../packages/core/src/cookie/cookie-header.js'
import {
  parseCookieValue,
  signCookieValue,
  verifyCookieValue,
} from '../../packages/core/src/cookie/cookie-value.js'
import { Keyring } from '../../packages/core/src/crypto/keyring.js'
import { newToken } from '../../packages/core/src/crypto/session-id.js'
import { fuzzProperty } from './budget.js'

const TARGET = 'cookie codec'
const secrets = ['s'.repeat(32), 't'.repeat(32), 'u'.repeat(32)]
const route = fc.string({
  unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_'.split('')),
  minLength: 1,
  maxLength: 32,
})
const anyText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({ unit: 'grapheme', maxLength: 80 }),
)

describe('fuzz: cookie codec', () => {
  it('reads any Cookie header without throwing, at most 64 values, none holding ";"', () =>
    fuzzProperty(
      TARGET,
      0.3,
      fc.oneof(anyText, fc.anything()),
      fc.constantFrom('tether.sid', ['__Host-tether.sid', 'tether.sid']),
      (header, names) => {
        const values = readCookieValues(header, names)
        expect(values.length).to.be.at.most(64)
        for (const v of values) expect(v).to.be.a('string').and.not.include(';')
      },
    ))

  it('reads the values of its name in order, whatever else the header holds', () =>
    fuzzProperty(
      TARGET,
      0.2,
      fc.array(
        fc.tuple(
          fc.constantFrom('tether.sid', 'other', 'tether.sidx', 'xtether.sid'),
          fc.string({ unit: fc.constantFrom(...'aZ09-_.=" '.split('')), maxLength: 30 }),
        ),
        { maxLength: 10 },
      ),
      (pairs) => {
        const header = pairs.map(([n, v]) => `${n}=${v}`).join('; ')
        const expected = pairs
          .filter(([n]) => n === 'tether.sid')
          .map(([, v]) => v.trim())
          .map((v) => (v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v))
        expect(readCookieValues(header, 'tether.sid')).to.deep.equal(expected)
      },
    ))

  it('verifies what it signed, under any key of a rotated ring, and nothing else', () =>
    fuzzProperty(
      TARGET,
      0.3,
      route,
      fc.integer({ min: 0, max: 2 }),
      fc.nat(),
      fc.oneof(fc.integer({ min: 0, max: 0xffff }), fc.constantFrom(0x2e, 0x41, 0x5f, 0x2d)),
      fc.constantFrom('replace', 'insert', 'delete'),
      (r, keyIndex, position, code, edit) => {
        const value = signCookieValue(newToken(), r, new Keyring(secrets[keyIndex]!))
        const ring = new Keyring(secrets)
        expect(verifyCookieValue(value, ring)?.keyIndex).to.equal(keyIndex)
        expect(parseCookieValue(value)?.route).to.equal(r)
        const p = position % value.length
        const c = String.fromCharCode(code)
        const mutated =
          edit === 'insert'
            ? value.slice(0, p) + c + value.slice(p)
            : edit === 'delete'
              ? value.slice(0, p) + value.slice(p + 1)
              : value.slice(0, p) + c + value.slice(p + 1)
        if (mutated !== value) expect(verifyCookieValue(mutated, ring)).to.equal(undefined)
        expect(verifyCookieValue(value, new Keyring('v'.repeat(32)))).to.equal(undefined)
      },
    ))

  it('parses any string to undefined or to parts that spell it exactly', () =>
    fuzzProperty(
      TARGET,
      0.2,
      fc.oneof(
        anyText,
        fc.string({ unit: fc.constantFrom(...'Aa0_-.'.split('')), minLength: 60, maxLength: 110 }),
      ),
      (text) => {
        const parts = parseCookieValue(text)
        if (parts !== undefined) expect(`${parts.token}.${parts.route}.${parts.mac}`).to.equal(text)
      },
    ))
})
