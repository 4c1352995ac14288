import type { Expiring, ExpiryBucket } from './expiry-index.js'
import { newFields } from './fields.js'
import type { ReplicaOp } from './replication.js'
import type { SessionWrite, StoredSession } from './store.js'

// MemoryStore's record of one session: the session as stored plus the store's bookkeeping (expiry,
// the list of anonymous sessions, route and owner), in one object.

/** A stored session and the store's bookkeeping for it, in one object (one allocation per session). */
export class Entry implements StoredSession, Expiring<Entry> {
  /** Nothing inherited: a key named `__proto__` is stored like any other (see fields.ts). */
  readonly fields = newFields()
  createdAt: number
  touchedAt: number
  established: boolean
  seal: string | undefined
  expiresAt: number
  /** The route of the session's cookie (where the cluster routes it), for replication. */
  route: string
  /** Changes with every write, touch or replicated change (see StoredSession.revision). */
  revision = 0
  /** The user the session belongs to (the SessionManager's `owner` option), for destroyAll. */
  owner: string | undefined = undefined
  /** Where the entry is filed in the store's ExpiryIndex. */
  expiryBucket: ExpiryBucket<Entry> | undefined = undefined
  expiryPrev: Entry | undefined = undefined
  expiryNext: Entry | undefined = undefined
  /** Neighbours in the list of anonymous sessions (least recently active first). */
  older: Entry | undefined = undefined
  newer: Entry | undefined = undefined
  listed = false

  constructor(
    readonly id: string,
    change: Pick<SessionWrite, 'createdAt' | 'touchedAt' | 'established' | 'expiresAt'> & {
      readonly seal?: string | undefined
    },
    route: string,
  ) {
    this.createdAt = change.createdAt
    this.touchedAt = change.touchedAt
    this.established = change.established
    this.seal = change.seal
    this.expiresAt = change.expiresAt
    this.route = route
  }
}

/** A stored session as one whole-record change, its fields copied (the entry keeps changing). */
export function wholeRecord(entry: Entry): ReplicaOp {
  return {
    op: 'write',
    id: entry.id,
    route: entry.route,
    set: { ...entry.fields },
    unset: [],
    createdAt: entry.createdAt,
    touchedAt: entry.touchedAt,
    expiresAt: entry.expiresAt,
    established: entry.established,
    full: true,
    seal: entry.seal,
    owner: entry.owner,
  }
}
