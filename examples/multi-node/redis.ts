import { Cluster, Redis } from 'ioredis'

/** A `host:port` list such as `10.0.0.5:7000,10.0.0.6:7000` as ioredis Cluster seeds. */
function seedsOf(list: string): Array<{ host: string; port: number }> {
  return list.split(',').map((entry) => {
    const match = /^\s*(.+):(\d+)\s*$/.exec(entry)
    if (match === null) throw new TypeError(`REDIS_CLUSTER_NODES must be host:port,host:port,…; got ${entry}`)
    return { host: match[1]!, port: Number(match[2]) }
  })
}

/**
 * Connects to the Redis Cluster named by REDIS_CLUSTER_NODES when it is set, else to the Redis at
 * REDIS_URL, and resolves once the client is ready (a worker that cannot reach Redis fails at
 * start instead of answering 503 to everyone).
 */
export async function connectRedis(env: NodeJS.ProcessEnv = process.env): Promise<Redis | Cluster> {
  // enableOfflineQueue off: while Redis is down a request fails at once (a 503 with Retry-After)
  // instead of waiting in a queue.
  const seeds = env.REDIS_CLUSTER_NODES
  const client =
    seeds !== undefined && seeds !== ''
      ? new Cluster(seedsOf(seeds), {
          enableOfflineQueue: false,
          lazyConnect: true,
          redisOptions: { maxRetriesPerRequest: 1 },
        })
      : new Redis(env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
          enableOfflineQueue: false,
          lazyConnect: true,
          maxRetriesPerRequest: 1,
        })
  // ioredis reconnects by itself; without a listener every attempt would print a stack trace.
  client.on('error', (error: Error) => console.warn(`redis: ${error.message}`))
  await client.connect()
  return client
}
