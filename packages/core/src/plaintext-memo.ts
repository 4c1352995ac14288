import type { StoredSession } from './stores/store.js'

/**
 * Decrypted fields of records that a store hands out again and again: a HybridStore returns the
 * same frozen record on every cache hit, and without this each hit would pay AES-GCM again for
 * every field. Only frozen records qualify (their fields cannot change behind the memo), entries
 * live exactly as long as the record does (a WeakMap), and each holds the JSON text, which is
 * parsed afresh per load so that no two loads share a mutable value.
 */
export class PlaintextMemo {
  readonly #records = new WeakMap<StoredSession, { storeId: string; json: Map<string, string> }>()

  /** The memo of a record, or undefined when it cannot have one (not frozen, another session). */
  of(storeId: string, record: StoredSession): Map<string, string> | undefined {
    if (!Object.isFrozen(record) || !Object.isFrozen(record.fields)) return undefined
    let memo = this.#records.get(record)
    if (memo === undefined) {
      memo = { storeId, json: new Map() }
      this.#records.set(record, memo)
    }
    // A record is filed under one store id; the check keeps decryption's binding to it regardless.
    return memo.storeId === storeId ? memo.json : undefined
  }
}
