import type { AdapterOptions } from '@tether/core'

export { resolveAdapterOptions, STORE_UNAVAILABLE_BODY } from '@tether/core'

/** Options of `stickySession()`: the core's options plus `retryAfter` (see `AdapterOptions`). */
export type StickySessionOptions = AdapterOptions
