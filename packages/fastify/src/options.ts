import type { AdapterOptions } from '@tether/core/adapter'

export { resolveAdapterOptions, STORE_UNAVAILABLE_BODY } from '@tether/core/adapter'

/** Options of the Fastify plugin: the core's options plus `retryAfter` (see `AdapterOptions`). */
export type TetherPluginOptions = AdapterOptions
