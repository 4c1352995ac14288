import type { AdapterOptions } from '@tether/core'

export { resolveAdapterOptions, STORE_UNAVAILABLE_BODY } from '@tether/core'

/** Options of the Fastify plugin: the core's options plus `retryAfter` (see `AdapterOptions`). */
export type TetherPluginOptions = AdapterOptions
