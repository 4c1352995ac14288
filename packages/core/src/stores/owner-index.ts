// MemoryStore's per-user index, for "log out everywhere": each session with an owner (a user id,
// from the SessionManager's `owner` option) is listed under it. Entries leave the index when they
// leave the store, so its size never exceeds the store's.

/** What the index keeps of a session: its id and its owner. */
export interface Owned {
  readonly id: string
  owner: string | undefined
}

export class OwnerIndex<E extends Owned> {
  readonly #byOwner = new Map<string, Set<E>>()

  /** Lists `entry` under `owner` (moving it from its previous owner, if any). */
  assign(entry: E, owner: string | undefined): void {
    if (entry.owner === owner) return
    this.remove(entry)
    entry.owner = owner
    if (owner === undefined) return
    let entries = this.#byOwner.get(owner)
    if (entries === undefined) {
      entries = new Set()
      this.#byOwner.set(owner, entries)
    }
    entries.add(entry)
  }

  remove(entry: E): void {
    if (entry.owner === undefined) return
    const entries = this.#byOwner.get(entry.owner)
    entries?.delete(entry)
    if (entries?.size === 0) this.#byOwner.delete(entry.owner)
    entry.owner = undefined
  }

  /** The entries listed under `owner`, as a copy (the caller may remove them meanwhile). */
  of(owner: string): E[] {
    return [...(this.#byOwner.get(owner) ?? [])]
  }

  clear(): void {
    this.#byOwner.clear()
  }
}
