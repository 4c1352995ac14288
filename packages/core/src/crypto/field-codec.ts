import { decrypt, encrypt } from './cipher.js'
import type { Keyring } from './keyring.js'

/**
 * Turns one top-level session value's JSON text into the string a store keeps, and back: the
 * text as is, or the AES-256-GCM envelope when encryption at rest is on. Each field is sealed on
 * its own, with the session's store id and the field name as associated data, so stores can write
 * changed fields alone and a field cannot be moved to another session or key.
 */
export interface FieldCodec {
  /** True when `open` authenticates what it returns (encryption at rest). */
  readonly authenticated: boolean
  encode(storeId: string, field: string, json: string): string
  /**
   * The field's JSON text, or undefined when the stored text cannot be trusted. An authenticated
   * codec only returns text this library made with JSON.stringify; a plain one returns any string.
   */
  open(storeId: string, field: string, stored: unknown): string | undefined
}

/** Returned by `parse` for text that is not JSON. */
export const CORRUPT: unique symbol = Symbol('tether.corrupt')

/** A JSON text as a value, or CORRUPT (for stored text that nothing authenticates). */
export function parse(json: string): unknown {
  try {
    return JSON.parse(json)
  } catch {
    return CORRUPT
  }
}

export const plainCodec: FieldCodec = {
  authenticated: false,
  encode: (_storeId, _field, json) => json,
  open: (_storeId, _field, stored) => (typeof stored === 'string' ? stored : undefined),
}

export function encryptedCodec(keyring: Keyring): FieldCodec {
  return {
    authenticated: true,
    encode: (storeId, field, json) => encrypt(keyring, json, `${storeId}\u0000${field}`),
    open: (storeId, field, stored) => decrypt(keyring, stored, `${storeId}\u0000${field}`),
  }
}
