import type { SessionStore } from './store.js'

/** Whether `value` has the methods of a {@link SessionStore}. */
export function isStore(value: unknown): value is SessionStore {
  const s = value as Partial<Record<keyof SessionStore, unknown>>
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof s.get === 'function' &&
    typeof s.write === 'function' &&
    typeof s.touch === 'function' &&
    typeof s.destroy === 'function' &&
    typeof s.close === 'function'
  )
}

/**
 * Whether the core may use a store's synchronous forms: it offers all three, and each comes from
 * the same class as its asynchronous twin. A subclass that overrides `write` to add behaviour
 * (counting, failing, delaying) but inherits `writeNow` keeps the asynchronous path, so nothing
 * it added is skipped.
 */
export function synchronousForms(store: SessionStore): boolean {
  const pairs = [
    ['get', 'getNow'],
    ['write', 'writeNow'],
    ['touch', 'touchNow'],
  ] as const
  return pairs.every(
    ([later, now]) => typeof store[now] === 'function' && definedBy(store, later) === definedBy(store, now),
  )
}

/** The object of `value`'s prototype chain that holds `name` as an own property. */
function definedBy(value: object, name: string): object | undefined {
  for (let o: object | null = value; o !== null; o = Object.getPrototypeOf(o)) {
    if (Object.hasOwn(o, name)) return o
  }
  return undefined
}
