// Redis clients for the tests, configured the way docs/redis.md tells users to: fail fast while
// the server is down instead of queueing, so a request gets a 503 quickly.
import { Cluster, Redis } from 'ioredis'
import { createClient, createCluster } from 'redis'
import type { RedisClusterHandle } from './redis-cluster.js'
import type { RedisServerHandle } from './redis-server.js'

export type ClientKind = 'ioredis' | 'node-redis' | 'ioredis-cluster' | 'node-redis-cluster'

/** A connected client of one kind, and how to close it. */
export interface TestClient {
  kind: ClientKind
  client: Redis | Cluster | ReturnType<typeof createClient> | ReturnType<typeof createCluster>
  close(): Promise<void>
}

export async function ioredisClient(server: RedisServerHandle): Promise<TestClient> {
  const client = new Redis({
    host: server.host,
    port: server.port,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 1000,
    // Reconnect quickly so outage tests see the recovery within a second.
    retryStrategy: () => 100,
    lazyConnect: true,
  })
  client.on('error', () => undefined)
  await client.connect()
  return { kind: 'ioredis', client, close: async () => client.disconnect() }
}

export async function nodeRedisClient(server: RedisServerHandle): Promise<TestClient> {
  const client = createClient({
    url: `redis://${server.host}:${server.port}`,
    disableOfflineQueue: true,
    commandOptions: { timeout: 1000 },
    socket: { reconnectStrategy: () => 100, connectTimeout: 1000 },
  })
  client.on('error', () => undefined)
  await client.connect()
  return { kind: 'node-redis', client, close: async () => client.destroy() }
}

export async function ioredisClusterClient(cluster: RedisClusterHandle): Promise<TestClient> {
  const client = new Cluster(cluster.nodes, {
    enableOfflineQueue: false,
    redisOptions: { maxRetriesPerRequest: 1, commandTimeout: 1000 },
    clusterRetryStrategy: () => 100,
    lazyConnect: true,
  })
  client.on('error', () => undefined)
  await client.connect()
  return { kind: 'ioredis-cluster', client, close: async () => client.disconnect() }
}

export async function nodeRedisClusterClient(cluster: RedisClusterHandle): Promise<TestClient> {
  const client = createCluster({
    rootNodes: cluster.nodes.map((n) => ({ url: `redis://${n.host}:${n.port}` })),
    defaults: {
      disableOfflineQueue: true,
      socket: { reconnectStrategy: () => 100, connectTimeout: 1000 },
    },
  })
  client.on('error', () => undefined)
  await client.connect()
  return { kind: 'node-redis-cluster', client, close: async () => client.destroy() }
}

/** Every SCANned key of a server with its raw content (HGETALL for hashes, DUMP otherwise). */
export async function dumpAll(client: Redis): Promise<string> {
  let out = ''
  let cursor = '0'
  do {
    const [next, keys] = await client.scan(cursor, 'COUNT', 500)
    cursor = next
    for (const key of keys) {
      const type = await client.type(key)
      out += `${key} ${type}\n`
      if (type === 'hash') out += `${JSON.stringify(await client.hgetall(key))}\n`
      else out += `${(await client.dumpBuffer(key))?.toString('latin1')}\n`
    }
  } while (cursor !== '0')
  return out
}
