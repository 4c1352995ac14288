import { decrypt, encrypt } from './cipher.js'
import type { Keyring } from './keyring.js'

/**
 * Turns one top-level session value into the string a store keeps, and back: JSON, then the
 * AES-256-GCM envelope when encryption at rest is on. Each field is sealed on its own, with the
 * session's store id and the field name as associated data, so stores can write changed fields
 * alone and a field cannot be moved to another session or key.
 */
export interface FieldCodec {
  encode(storeId: string, field: string, json: string): string
  /** The decoded value, or the `CORRUPT` marker when the stored text cannot be trusted. */
  decode(storeId: string, field: string, stored: unknown): unknown
  /** `decode` in two steps: the JSON text (undefined when untrustworthy), then `parse` it. */
  open?(storeId: string, field: string, stored: unknown): string | undefined
}

/** Returned by `FieldCodec.decode` for a field that is tampered, undecryptable or not JSON. */
export const CORRUPT: unique symbol = Symbol('tether.corrupt')

/** A field's JSON text as a value, or CORRUPT. */
export function parse(json: string | undefined): unknown {
  if (json === undefined) return CORRUPT
  try {
    return JSON.parse(json)
  } catch {
    return CORRUPT
  }
}

export const plainCodec: FieldCodec = {
  encode: (_storeId, _field, json) => json,
  decode: (_storeId, _field, stored) => (typeof stored === 'string' ? parse(stored) : CORRUPT),
}

export function encryptedCodec(keyring: Keyring): FieldCodec {
  return {
    encode: (storeId, field, json) => encrypt(keyring, json, `${storeId}\u0000${field}`),
    decode: (storeId, field, stored) => parse(decrypt(keyring, stored, `${storeId}\u0000${field}`)),
    open: (storeId, field, stored) => decrypt(keyring, stored, `${storeId}\u0000${field}`),
  }
}
