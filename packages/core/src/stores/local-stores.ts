// In a cluster worker, the in-process stores (MemoryStore) list themselves here so that the
// cluster can report how many sessions each worker holds, without the app passing its stores
// around. Kept on globalThis so two copies of the core in one process (ESM and CommonJS) share it.

/** What the count needs of a store: its number of sessions, read in O(1). */
export interface CountedStore {
  readonly size: number
}

const LOCAL_STORES = Symbol.for('tether.local-stores')

function localStores(): Set<CountedStore> {
  const g = globalThis as { [LOCAL_STORES]?: Set<CountedStore> }
  g[LOCAL_STORES] ??= new Set()
  return g[LOCAL_STORES]
}

/** Lists a store until `forgetLocalStore` (its close()). */
export function listLocalStore(store: CountedStore): void {
  localStores().add(store)
}

export function forgetLocalStore(store: CountedStore): void {
  localStores().delete(store)
}

/** Sessions held by this process's listed stores (with replication, backup copies included). */
export function localSessionCount(): number {
  let total = 0
  for (const store of localStores()) total += store.size
  return total
}
