// Type-level checks (compiled by `tsc -p test/tsconfig.json`, never run): every supported client
// is accepted as is, without a cast, and anything else is a compile error.
import { HybridStore, RedisStore } from '@tether/core'
import { Cluster, Redis } from 'ioredis'
import { createClient, createCluster } from 'redis'

export function acceptsEverySupportedClient(): void {
  new RedisStore({ client: new Redis({ lazyConnect: true }) })
  new RedisStore({ client: new Cluster([{ host: '127.0.0.1', port: 7000 }], { lazyConnect: true }) })
  new RedisStore({ client: createClient() })
  new RedisStore({ client: createCluster({ rootNodes: [{ url: 'redis://127.0.0.1:7000' }] }) })
  new HybridStore({ client: new Redis({ lazyConnect: true }), maxEntries: 1000 })
  new HybridStore({ client: createClient(), prefix: 'app:' })
}

export function rejectsOtherThings(): void {
  // @ts-expect-error a plain object is not a Redis client
  new RedisStore({ client: { get() {} } })
  // @ts-expect-error the client is required
  new RedisStore({ prefix: 'x:' })
  // @ts-expect-error HybridStore always publishes; the option is RedisStore's only
  new HybridStore({ client: createClient(), publish: false })
}
