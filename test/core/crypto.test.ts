import { createDecipheriv, createHash, createHmac } from 'node:crypto'
import { Keyring } from '@tether/core'
import { expect } from 'chai'
import fc from 'fast-check'
import { decrypt, encrypt } from '../../packages/core/src/crypto/cipher.js'
import { newToken, storeIdOf } from '../../packages/core/src/crypto/session-id.js'

const keyring = new Keyring('k'.repeat(32))

describe('Keyring', () => {
  it('rejects short or missing secrets, naming secret', () => {
    expect(() => new Keyring('short')).to.throw(TypeError, /^secret must be at least 32 characters long/)
    expect(() => new Keyring(['x'.repeat(32), 'short'])).to.throw(
      TypeError,
      /^secret\[1\] must be at least 32/,
    )
    expect(() => new Keyring([])).to.throw(TypeError, /^secret must be/)
    expect(() => new Keyring(Buffer.alloc(16))).to.throw(TypeError, /32 bytes/)
    expect(() => new Keyring(42 as never)).to.throw(TypeError, /^secret must be/)
  })

  it('derives distinct keys for signing and encryption', () => {
    const { macKey, cipherKey } = keyring.current
    expect(macKey.equals(cipherKey)).to.equal(false)
    expect(macKey).to.have.length(32)
    expect(cipherKey).to.have.length(32)
  })
})

describe('cookie MACs', () => {
  const reference = (ring: Keyring, data: string, bytes: number) =>
    createHmac('sha256', ring.current.macKey).update(data).digest().subarray(0, bytes).toString('base64url')

  it('are HMAC-SHA256 under the derived MAC key, truncated, as base64url', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 32 }),
        fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ minLength: 200, maxLength: 600 })),
        fc.integer({ min: 1, max: 32 }),
        (secret, data, bytes) => {
          const ring = new Keyring(secret)
          expect(ring.sign(data, bytes)).to.equal(reference(ring, data, bytes))
          expect(ring.verify(data, ring.sign(data, bytes), bytes)).to.equal(0)
        },
      ),
    )
  })

  it('stay correct when one keyring signs a long message between short ones', () => {
    const data = ['a.solo', 'é'.repeat(400), 'b.solo', 'x'.repeat(5000), 'c.solo']
    for (const d of data) expect(keyring.sign(d, 16)).to.equal(reference(keyring, d, 16))
  })
})

describe('encryption at rest (AES-256-GCM envelope)', () => {
  it('round-trips and hides the plaintext', () => {
    const sealed = encrypt(keyring, '{"user":"alice"}', 'id\u0000user')
    expect(sealed).to.not.contain('alice')
    expect(Buffer.from(sealed, 'base64url').toString('latin1')).to.not.contain('alice')
    expect(decrypt(keyring, sealed, 'id\u0000user')).to.equal('{"user":"alice"}')
  })

  it('uses a fresh IV each time, across refills of the IV pool', () => {
    expect(encrypt(keyring, 'same', 'ad')).to.not.equal(encrypt(keyring, 'same', 'ad'))
    const ivs = new Set<string>()
    for (let i = 0; i < 1000; i++) {
      // Envelope: version (1 byte), key id (4), IV (12), tag (16), ciphertext.
      ivs.add(
        Buffer.from(encrypt(keyring, 'same', 'ad'), 'base64url')
          .subarray(5, 17)
          .toString('hex'),
      )
    }
    expect(ivs.size).to.equal(1000)
  })

  it('fails when moved to other associated data (another session or key)', () => {
    const sealed = encrypt(keyring, 'secret', 'session-a\u0000k')
    expect(decrypt(keyring, sealed, 'session-b\u0000k')).to.equal(undefined)
    expect(decrypt(keyring, sealed, 'session-a\u0000other')).to.equal(undefined)
  })

  it('is version, key id, IV, tag and ciphertext that AES-256-GCM opens on its own', () => {
    for (const plaintext of ['', 'a', '{"n":1}', 'é'.repeat(700)]) {
      const bytes = Buffer.from(encrypt(keyring, plaintext, 'sid\u0000k'), 'base64url')
      expect(bytes[0]).to.equal(1)
      expect(bytes.subarray(1, 5).equals(keyring.current.keyId)).to.equal(true)
      const decipher = createDecipheriv('aes-256-gcm', keyring.current.cipherKey, bytes.subarray(5, 17))
      decipher.setAAD(Buffer.from('sid\u0000k'))
      decipher.setAuthTag(bytes.subarray(17, 33))
      const opened = Buffer.concat([decipher.update(bytes.subarray(33)), decipher.final()])
      expect(opened.toString('utf8')).to.equal(plaintext)
    }
  })

  it('binds long and multi-byte associated data, between short ones', () => {
    const long = `${'sé'.repeat(400)}\u0000key`
    const longer = `${'é'.repeat(3000)}\u0000key`
    expect(decrypt(keyring, encrypt(keyring, 'w', longer), longer)).to.equal('w')
    expect(decrypt(keyring, encrypt(keyring, 'w', longer), `${longer}x`)).to.equal(undefined)
    const short = encrypt(keyring, 'a', 'ad')
    const sealed = encrypt(keyring, 'v', long)
    expect(decrypt(keyring, encrypt(keyring, 'b', 'ad'), 'ad')).to.equal('b')
    expect(decrypt(keyring, sealed, long)).to.equal('v')
    expect(decrypt(keyring, sealed, `${long}x`)).to.equal(undefined)
    expect(decrypt(keyring, short, 'ad')).to.equal('a')
  })

  it('decrypts with a rotated-out key that is still in the ring, fails once it is dropped', () => {
    const old = new Keyring('o'.repeat(32))
    const sealed = encrypt(old, 'v', 'ad')
    expect(decrypt(new Keyring(['n'.repeat(32), 'o'.repeat(32)]), sealed, 'ad')).to.equal('v')
    expect(decrypt(new Keyring('n'.repeat(32)), sealed, 'ad')).to.equal(undefined)
  })

  it('property: arbitrary input never throws and never decrypts', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.uint8Array().map((b) => Buffer.from(b).toString('base64url')),
          fc.anything(),
        ),
        (junk) => {
          expect(decrypt(keyring, junk, 'ad')).to.equal(undefined)
        },
      ),
      { numRuns: 3000 },
    )
  })

  it('property: flipping any bit of a ciphertext fails', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.nat(), fc.nat(7), (plaintext, at, bit) => {
        const sealed = encrypt(keyring, plaintext, 'ad')
        expect(decrypt(keyring, sealed, 'ad')).to.equal(plaintext)
        const bytes = Buffer.from(sealed, 'base64url')
        const i = at % bytes.length
        bytes[i] = bytes[i]! ^ (1 << bit)
        expect(decrypt(keyring, bytes.toString('base64url'), 'ad')).to.equal(undefined)
      }),
      { numRuns: 3000 },
    )
  })

  it('property: flipping any bit of the stored text fails', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 50 }), fc.nat(), fc.nat(7), (plaintext, at, bit) => {
        const sealed = Buffer.from(encrypt(keyring, plaintext, 'ad'), 'latin1')
        const i = at % sealed.length
        sealed[i] = sealed[i]! ^ (1 << bit)
        expect(decrypt(keyring, sealed.toString('latin1'), 'ad')).to.equal(undefined)
      }),
      { numRuns: 3000 },
    )
  })
})

describe('store ids', () => {
  it('are SHA-256 of the token (base64url), whichever digest API the Node version offers', () => {
    for (let i = 0; i < 20; i++) {
      const token = newToken()
      const expected = createHash('sha256').update(`tether-session:${token}`).digest('base64url')
      expect(storeIdOf(token)).to.equal(expected).and.to.not.contain(token)
    }
  })
})
