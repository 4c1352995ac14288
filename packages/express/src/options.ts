import type { AdapterOptions } from '@tether/core/adapter'

export { resolveAdapterOptions, STORE_UNAVAILABLE_BODY } from '@tether/core/adapter'

/** Options of `stickySession()`: the core's options plus `retryAfter` (see `AdapterOptions`). */
export type StickySessionOptions = AdapterOptions
