import { timingSafeEqual } from 'node:crypto'
import type { Keyring } from './keyring.js'

/*
 * The seal of a stored record: an HMAC over what must never change for the life of a record, the
 * store id, the route in its cookie and its creation time (the anchor of the absolute timeout).
 * Written once, when the record is created, so writes of other keys in parallel need no
 * coordination. Someone who can write to the store but does not hold the secret can then neither
 * move a record's creation time (to escape the absolute timeout) nor serve it under another
 * route; anything else about the record is authenticated per value by the cipher.
 */

const SEAL_BYTES = 16

function sealed(storeId: string, route: string, createdAt: number): string {
  return `tether record v1\u0000${storeId}\u0000${route}\u0000${createdAt}`
}

/** The seal of a record, under the newest secret. */
export function sealRecord(keyring: Keyring, storeId: string, route: string, createdAt: number): string {
  return keyring.current.recordMac.mac(sealed(storeId, route, createdAt), SEAL_BYTES)
}

/** Whether `seal` was made by one of the keyring's secrets for exactly this record. */
export function checkSeal(
  keyring: Keyring,
  seal: unknown,
  storeId: string,
  route: string,
  createdAt: number,
): boolean {
  if (typeof seal !== 'string') return false
  const given = Buffer.from(seal)
  const data = sealed(storeId, route, createdAt)
  let ok = false
  for (const key of keyring.keys) {
    const expected = Buffer.from(key.recordMac.mac(data, SEAL_BYTES))
    if (expected.length === given.length && timingSafeEqual(expected, given)) ok = true
  }
  return ok
}
