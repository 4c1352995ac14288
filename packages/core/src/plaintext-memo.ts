import { LRUCache } from 'lru-cache'
import type { StoredSession } from './stores/store.js'

/** Decrypts one field's stored text to its JSON text, or undefined when it cannot be trusted. */
export type OpenField = (storeId: string, field: string, stored: unknown) => string | undefined

/** The decrypted fields of one session as last read: each JSON text with the envelope it came from. */
interface Recent {
  readonly envelopes: Map<string, unknown>
  readonly json: Map<string, string>
}

/**
 * Decrypted field texts, so that a field read again unchanged does not pay AES-GCM again (about
 * 7 µs per field here, per request, for every field of the session). Two memos:
 *
 * - Frozen records, which a caching store (HybridStore) hands out on every hit: their fields
 *   cannot change behind the memo, so an entry lives exactly as long as the record (a WeakMap),
 *   and a hit costs one lookup.
 * - Any other record (a RedisStore read is a fresh object each time): by session, the envelope
 *   each text was decrypted from, and a text is reused only for the very same envelope. Every
 *   write seals a field under a fresh random IV, so another process's write, a tampered value or a
 *   record from another session never matches: the memo cannot go stale, it can only miss. It is
 *   bounded by the bytes of text it keeps (least recently read sessions go first). A new frozen
 *   record's texts come through it too, so a HybridStore re-read decrypts only what changed.
 *
 * The maps handed out are never changed afterwards: a live session reads one until its first
 * change copies it, and `get` parses a text each time, so no two readers share a mutable value.
 */
export class PlaintextMemo {
  readonly #frozen = new WeakMap<StoredSession, { storeId: string; json: ReadonlyMap<string, string> }>()
  readonly #recent: LRUCache<string, Recent> | undefined

  /** `maxBytes`: the text kept for records that are not frozen; 0 keeps none. */
  constructor(maxBytes: number) {
    this.#recent =
      maxBytes === 0
        ? undefined
        : new LRUCache<string, Recent>({ maxSize: maxBytes, sizeCalculation: sizeOf })
  }

  /**
   * The JSON text of every field of `record`, decrypting with `open` only what the memo does not
   * hold; undefined when any field cannot be trusted. The map is the memo's: read it, never change it.
   */
  textsOf(storeId: string, record: StoredSession, open: OpenField): ReadonlyMap<string, string> | undefined {
    if (Object.isFrozen(record)) {
      // Frozen once means frozen for good: a record found here needs no further checks.
      const memo = this.#frozen.get(record)
      if (memo !== undefined)
        return memo.storeId === storeId ? memo.json : openAll(storeId, record.fields, open)
      if (Object.isFrozen(record.fields)) {
        // A new frozen record (a HybridStore re-read, or its copy after a write) mostly repeats
        // the envelopes of the one before: only the changed ones are decrypted.
        const json = this.#byEnvelope(storeId, record.fields, open)
        if (json !== undefined) this.#frozen.set(record, { storeId, json })
        return json
      }
    }
    return this.#byEnvelope(storeId, record.fields, open)
  }

  #byEnvelope(
    storeId: string,
    fields: StoredSession['fields'],
    open: OpenField,
  ): ReadonlyMap<string, string> | undefined {
    const recent = this.#recent
    if (recent === undefined) return openAll(storeId, fields, open)
    const names = Object.keys(fields)
    const known = recent.get(storeId)
    if (known !== undefined && known.envelopes.size === names.length) {
      let same = true
      for (const name of names) {
        if (known.envelopes.get(name) !== fields[name]) {
          same = false
          break
        }
      }
      if (same) return known.json
    }
    // Built anew, never changed afterwards: a map handed out before stays as it was.
    const next: Recent = { envelopes: new Map(), json: new Map() }
    for (const name of names) {
      const envelope = fields[name]
      let json =
        known !== undefined && known.envelopes.get(name) === envelope ? known.json.get(name) : undefined
      json ??= open(storeId, name, envelope)
      if (json === undefined) return undefined
      next.envelopes.set(name, envelope)
      next.json.set(name, json)
    }
    recent.set(storeId, next)
    return next.json
  }

  /** Drops what is kept for a session that is gone. */
  forget(storeId: string): void {
    this.#recent?.delete(storeId)
  }
}

function openAll(
  storeId: string,
  fields: StoredSession['fields'],
  open: OpenField,
): Map<string, string> | undefined {
  const json = new Map<string, string>()
  for (const field of Object.keys(fields)) {
    const text = open(storeId, field, fields[field])
    if (text === undefined) return undefined
    json.set(field, text)
  }
  return json
}

/** Bytes a session's entry keeps alive, roughly: its texts and envelopes, plus the maps. */
function sizeOf(recent: Recent): number {
  let size = 64
  for (const [field, json] of recent.json) {
    const envelope = recent.envelopes.get(field)
    size += 32 + field.length + json.length + (typeof envelope === 'string' ? envelope.length : 0)
  }
  return size
}
