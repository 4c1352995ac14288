import { expect } from 'chai'
import fc from 'fast-check'
import { decrypt, encrypt } from '../../packages/core/src/crypto/cipher.js'
import { encryptedCodec } from '../../packages/core/src/crypto/field-codec.js'
import { Keyring } from '../../packages/core/src/crypto/keyring.js'
import { fuzzProperty } from './budget.js'

const TARGET = 'envelope decoder'
const old = new Keyring('o'.repeat(32))
const ring = new Keyring(['n'.repeat(32), 'o'.repeat(32)])
const json = fc.jsonValue().map((v) => JSON.stringify(v))

describe('fuzz: envelope decoder', () => {
  it('opens what it sealed, with a rotated key too, and only for the same store id and field', () =>
    fuzzProperty(TARGET, 0.3, json, fc.string(), fc.string(), (text, storeId, field) => {
      const codec = encryptedCodec(ring)
      const sealed = codec.encode(storeId, field, text)
      expect(codec.open(storeId, field, sealed)).to.equal(text)
      expect(
        encryptedCodec(new Keyring(['x'.repeat(32), 'o'.repeat(32)])).open(
          storeId,
          field,
          encryptedCodec(old).encode(storeId, field, text),
        ),
      ).to.equal(text)
      expect(codec.open(`${storeId}x`, field, sealed)).to.equal(undefined)
      expect(codec.open(storeId, `${field}x`, sealed)).to.equal(undefined)
    }))

  it('rejects every one-bit change of an envelope, and every change of its text', () =>
    fuzzProperty(
      TARGET,
      0.4,
      json,
      fc.nat(),
      fc.integer({ min: 0, max: 7 }),
      fc.nat(),
      fc.integer({ min: 0, max: 0x7f }),
      (text, bytePosition, bit, charPosition, code) => {
        const sealed = encrypt(ring, text, 'ad')
        const bytes = Buffer.from(sealed, 'base64url')
        bytes[bytePosition % bytes.length]! ^= 1 << bit
        expect(decrypt(ring, bytes.toString('base64url'), 'ad')).to.equal(undefined)
        const p = charPosition % sealed.length
        const changed = sealed.slice(0, p) + String.fromCharCode(code) + sealed.slice(p + 1)
        if (changed !== sealed) expect(decrypt(ring, changed, 'ad')).to.equal(undefined)
        expect(decrypt(ring, sealed.slice(0, p), 'ad')).to.equal(undefined)
        expect(decrypt(ring, `${sealed}A`, 'ad')).to.equal(undefined)
      },
    ))

  it('answers undefined, never throws, for garbage of any type', () =>
    fuzzProperty(
      TARGET,
      0.3,
      fc.oneof(
        fc.anything(),
        fc.string({ unit: 'binary', maxLength: 200 }),
        fc.uint8Array({ maxLength: 120 }).map((a) => Buffer.from([1, ...a]).toString('base64url')),
        fc
          .uint8Array({ maxLength: 120 })
          .map((a) => Buffer.concat([Buffer.from([1]), ring.current.keyId, a]).toString('base64url')),
      ),
      (stored) => {
        expect(decrypt(ring, stored, 'ad')).to.equal(undefined)
      },
    ))
})
