import type { ReplicaOp } from '@tether/core/adapter'

// Replicated changes as they travel between workers (see peer-frames.ts): arrays instead of
// objects, since every byte is serialised to JSON and parsed again on the way. About half the size
// of the object form for a typical small change.

/** [store, 0, id, route, set, unset, createdAt, touchedAt, expiresAt, flags, seal, owner] | [store, 1, id, route, touchedAt, expiresAt] | [store, 2, id, route] */
export type WireChange =
  | readonly [
      number,
      0,
      string,
      string,
      Readonly<Record<string, string>>,
      readonly string[],
      number,
      number,
      number,
      number,
      string | null,
      string | null,
    ]
  | readonly [number, 1, string, string, number, number]
  | readonly [number, 2, string, string]

const ESTABLISHED = 1
const FULL = 2

export function toWire(store: number, change: ReplicaOp): WireChange {
  switch (change.op) {
    case 'write':
      return [
        store,
        0,
        change.id,
        change.route,
        change.set,
        change.unset,
        change.createdAt,
        change.touchedAt,
        change.expiresAt,
        (change.established ? ESTABLISHED : 0) | (change.full ? FULL : 0),
        change.seal ?? null,
        change.owner ?? null,
      ]
    case 'touch':
      return [store, 1, change.id, change.route, change.touchedAt, change.expiresAt]
    default:
      return [store, 2, change.id, change.route]
  }
}

export function fromWire(wire: WireChange): ReplicaOp {
  switch (wire[1]) {
    case 0:
      return {
        op: 'write',
        id: wire[2],
        route: wire[3],
        set: wire[4],
        unset: wire[5],
        createdAt: wire[6],
        touchedAt: wire[7],
        expiresAt: wire[8],
        established: (wire[9] & ESTABLISHED) !== 0,
        full: (wire[9] & FULL) !== 0,
        seal: wire[10] ?? undefined,
        owner: wire[11] ?? undefined,
      }
    case 1:
      return { op: 'touch', id: wire[2], route: wire[3], touchedAt: wire[4], expiresAt: wire[5] }
    default:
      return { op: 'destroy', id: wire[2], route: wire[3] }
  }
}

/**
 * One change that says what `earlier` and then `later` (of the same session) say together, so a
 * session changed many times before a batch leaves is sent once.
 */
export function merge(earlier: ReplicaOp, later: ReplicaOp): ReplicaOp {
  if (later.op === 'destroy') return later
  if (earlier.op === 'destroy') return later.op === 'touch' ? earlier : later
  if (earlier.op === 'touch') return later
  if (later.op === 'touch') return { ...earlier, touchedAt: later.touchedAt, expiresAt: later.expiresAt }
  let set: Record<string, string>
  let unset: readonly string[]
  if (later.unset.length === 0 && earlier.unset.length === 0) {
    // The common case, merged once per request under load (a counter, a cart): keys set, none removed.
    set = Object.assign(Object.create(null), earlier.set, later.set)
    unset = later.unset
  } else {
    set = Object.create(null)
    const removed = new Set(later.unset)
    for (const key of Object.keys(earlier.set)) if (!removed.has(key)) set[key] = earlier.set[key]!
    Object.assign(set, later.set)
    const unsetKeys = new Set(earlier.unset.filter((key) => !Object.hasOwn(later.set, key)))
    for (const key of later.unset) unsetKeys.add(key)
    unset = [...unsetKeys]
  }
  return {
    ...later,
    set,
    unset,
    // A whole record with changes on top is still a whole record.
    full: earlier.full || later.full,
    // The seal covers the record as the later write left it.
    seal: later.seal,
    owner: later.owner ?? earlier.owner,
    established: earlier.established || later.established,
  }
}
