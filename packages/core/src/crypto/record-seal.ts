import { timingSafeEqual } from 'node:crypto'
import type { Keyring } from './keyring.js'

/*
 * The seal of a stored record (with encryption at rest): an HMAC over everything a reader trusts
 * about the record, remade by every write. It covers the store id, the route in the session's
 * cookie, the creation time (the anchor of the absolute timeout), the established flag, a write
 * number, and every value the record holds, each by its key and the fingerprint of its envelope.
 * Someone who can write to the store but does not hold the secret can then neither move a
 * record's creation time, serve it under another route, drop a value, put back a value the app
 * removed, nor put back an older envelope of a value: each makes the record read as no session.
 * What a seal cannot tell is a whole earlier record put back consistently (values and seal
 * together); a writer that has seen a later write number refuses it, a fresh reader cannot.
 *
 * Writers in two processes may change different keys of one record at once (a failover, several
 * nodes on one Redis). Each write names the seal it was made from, and the store refuses a write
 * whose record has moved on since (see SessionWrite.sealBefore): the writer then takes the
 * record's current seal, checks it, and seals its change over that.
 */

const SEAL_BYTES = 16
/** An envelope's version, key id and random IV, in base64url (see cipher.ts). */
const FINGERPRINT_CHARS = 24

/** What a seal covers besides the values. */
export interface SealedMeta {
  readonly storeId: string
  readonly route: string
  readonly createdAt: number
  readonly established: boolean
}

/** A record's verified seal, with what a writer needs to seal the record's next state. */
export interface RecordSeal {
  readonly seal: string
  /** Counts the writes of the record: 1 for the write that created it. */
  readonly writeNumber: number
  /** Fingerprint of each value's envelope, by key. */
  readonly fingerprints: ReadonlyMap<string, string>
}

/**
 * What identifies one envelope: its key id and 96-bit random IV. No two encryptions share an IV
 * (a CSPRNG draw each), and GCM authenticates the IV with the ciphertext, so an envelope with this
 * fingerprint that still opens is this very envelope; reading 24 characters costs less than
 * hashing every value on every read.
 */
export function fingerprintOf(envelope: string): string {
  return envelope.slice(0, FINGERPRINT_CHARS)
}

function sealed(meta: SealedMeta, writeNumber: number, fingerprints: ReadonlyMap<string, string>): string {
  const keys = [...fingerprints.keys()].sort()
  let data = `tether record v2\u0000${meta.storeId}\u0000${meta.route}\u0000${meta.createdAt}\u0000${meta.established ? 1 : 0}\u0000${writeNumber}`
  // Length-prefixed keys: no choice of key names can make two records read alike.
  for (const key of keys) data += `\u0000${key.length}:${key}${fingerprints.get(key)}`
  return data
}

/** A record's seal under the newest secret: `<write number>.<mac>`. */
export function sealRecord(
  keyring: Keyring,
  meta: SealedMeta,
  writeNumber: number,
  fingerprints: ReadonlyMap<string, string>,
): RecordSeal {
  const mac = keyring.current.recordMac.mac(sealed(meta, writeNumber, fingerprints), SEAL_BYTES)
  return { seal: `${writeNumber}.${mac}`, writeNumber, fingerprints }
}

/**
 * The record's seal when one of the keyring's secrets made it for exactly these values and
 * metadata, else undefined. `fields` are the stored envelopes by key; anything else is refused.
 */
export function openSeal(
  keyring: Keyring,
  seal: unknown,
  meta: SealedMeta,
  fields: Readonly<Record<string, unknown>>,
): RecordSeal | undefined {
  if (typeof seal !== 'string') return undefined
  const dot = seal.indexOf('.')
  const writeNumber = Number(seal.slice(0, dot))
  if (
    dot < 1 ||
    !Number.isSafeInteger(writeNumber) ||
    writeNumber < 1 ||
    String(writeNumber) !== seal.slice(0, dot)
  )
    return undefined
  const fingerprints = new Map<string, string>()
  for (const key of Object.keys(fields)) {
    const envelope = fields[key]
    if (typeof envelope !== 'string') return undefined
    fingerprints.set(key, fingerprintOf(envelope))
  }
  const given = Buffer.from(seal.slice(dot + 1))
  const data = sealed(meta, writeNumber, fingerprints)
  let ok = false
  for (const key of keyring.keys) {
    const expected = Buffer.from(key.recordMac.mac(data, SEAL_BYTES))
    if (expected.length === given.length && timingSafeEqual(expected, given)) ok = true
  }
  return ok ? { seal, writeNumber, fingerprints } : undefined
}
