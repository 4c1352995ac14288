import { optionError } from '../validate.js'

/*
 * One small interface over the Redis clients users bring: ioredis (Redis and Cluster) and
 * node-redis v5 (createClient and createCluster). Every client is typed structurally, by the few
 * methods called here, so @tether/core never imports ioredis or redis.
 */

type Listener = (...args: unknown[]) => void

/** The parts of an ioredis `Redis` or `Cluster` that Tether calls. */
export interface IoRedisLike {
  call(command: string, ...args: string[]): Promise<unknown>
  duplicate(): IoRedisLike
  subscribe(channel: string): Promise<unknown>
  on(event: string, listener: Listener): unknown
  removeListener(event: string, listener: Listener): unknown
  disconnect(): void
  status?: string
  isCluster?: boolean
  nodes?(role: 'master'): IoRedisLike[]
  connect?(): Promise<void>
}

/** The parts of a node-redis v5 client (`createClient()`) that Tether calls. */
export interface NodeRedisLike {
  sendCommand(args: string[]): Promise<unknown>
  duplicate(): NodeRedisLike
  connect(): Promise<unknown>
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>
  on(event: string, listener: Listener): unknown
  removeListener(event: string, listener: Listener): unknown
  destroy?(): void
  disconnect?(): Promise<void>
  hGetAll: unknown
  isReady?: boolean
  isOpen?: boolean
}

/** The parts of a node-redis v5 cluster (`createCluster()`) that Tether calls. */
export interface NodeRedisClusterLike {
  sendCommand(firstKey: string | undefined, isReadonly: boolean | undefined, args: string[]): Promise<unknown>
  duplicate(): NodeRedisClusterLike
  connect(): Promise<unknown>
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>
  on(event: string, listener: Listener): unknown
  removeListener(event: string, listener: Listener): unknown
  destroy?(): void
  disconnect?(): Promise<void>
  nodeClient(node: unknown): Promise<NodeRedisLike> | NodeRedisLike
  readonly masters: unknown[]
  isReady?: boolean
  isOpen?: boolean
}

/** Any Redis client RedisStore accepts. */
export type RedisClientLike = IoRedisLike | NodeRedisLike | NodeRedisClusterLike

/** A subscription to one channel on a connection of its own, with its health reported. */
export interface Subscription {
  /** Ends the subscription and closes its connection. */
  close(): Promise<void>
}

export interface SubscriptionEvents {
  message(message: string): void
  /** The connection is (re)connected; the subscription must be confirmed before trusting it. */
  ready(): void
  /** The connection dropped: messages may have been missed. */
  down(): void
}

/** What RedisStore needs from a client, whatever library it comes from. */
export interface RedisConnection {
  /** Sends one command; `key` routes it in a cluster (undefined: any node). */
  command(key: string | undefined, args: string[]): Promise<unknown>
  /** One command sender per master, for SCAN (a single entry for a standalone server). */
  masters(): Promise<Array<(args: string[]) => Promise<unknown>>>
  /** Opens a subscriber connection of its own for `channel`. */
  subscribe(channel: string, events: SubscriptionEvents): Promise<Subscription>
  /** Re-sends SUBSCRIBE on the subscriber (idempotent); resolves once the server confirmed it. */
  resubscribe(subscription: Subscription, channel: string): Promise<void>
  /** True while the subscriber connection is up. */
  subscriberReady(subscription: Subscription): boolean
}

const isFunction = (value: unknown): boolean => typeof value === 'function'

function isNodeRedisCluster(client: object): client is NodeRedisClusterLike {
  const c = client as Partial<NodeRedisClusterLike>
  return isFunction(c.sendCommand) && isFunction(c.nodeClient)
}

function isNodeRedis(client: object): client is NodeRedisLike {
  const c = client as Partial<NodeRedisLike>
  return isFunction(c.sendCommand) && isFunction(c.hGetAll) && isFunction(c.connect)
}

function isIoRedis(client: object): client is IoRedisLike {
  const c = client as Partial<IoRedisLike>
  return isFunction(c.call) && isFunction(c.duplicate) && isFunction(c.on)
}

/** Wraps a user's client; throws a TypeError naming `client` when it is none of the supported kinds. */
export function redisConnection(client: unknown): RedisConnection {
  if (typeof client === 'object' && client !== null) {
    if (isNodeRedisCluster(client)) return nodeRedisClusterConnection(client)
    if (isNodeRedis(client)) return nodeRedisConnection(client)
    if (isIoRedis(client)) return ioRedisConnection(client)
  }
  throw optionError(
    'client',
    'an ioredis Redis or Cluster, or a node-redis v5 client or cluster (connected)',
    client,
  )
}

interface OwnedSubscription extends Subscription {
  readonly connection: IoRedisLike | NodeRedisLike | NodeRedisClusterLike
}

function ioRedisConnection(client: IoRedisLike): RedisConnection {
  return {
    command: (_key, args) => client.call(args[0]!, ...args.slice(1)),
    async masters() {
      const nodes =
        client.isCluster === true && client.nodes !== undefined ? client.nodes('master') : [client]
      return nodes.map((node) => (args: string[]) => node.call(args[0]!, ...args.slice(1)))
    },
    async subscribe(channel, events) {
      const sub = client.duplicate()
      sub.on('message', ((ch: string, message: string) => {
        if (ch === channel) events.message(message)
      }) as Listener)
      sub.on('ready', events.ready)
      for (const event of ['close', 'end', 'reconnecting', 'error']) sub.on(event, events.down)
      if (sub.status === 'wait' && sub.connect !== undefined) await sub.connect().catch(() => undefined)
      const subscription: OwnedSubscription = {
        connection: sub,
        async close() {
          sub.disconnect()
        },
      }
      return subscription
    },
    async resubscribe(subscription, channel) {
      await ((subscription as OwnedSubscription).connection as IoRedisLike).subscribe(channel)
    },
    subscriberReady(subscription) {
      const sub = (subscription as OwnedSubscription).connection as IoRedisLike
      // A Cluster has no single status; its 'end'/'ready' events still drive the state.
      return sub.status === undefined || sub.status === 'ready'
    },
  }
}

function nodeRedisSubscribe(
  sub: NodeRedisLike | NodeRedisClusterLike,
  events: SubscriptionEvents,
): OwnedSubscription {
  sub.on('ready', events.ready)
  for (const event of ['end', 'error', 'reconnecting']) sub.on(event, events.down)
  return {
    connection: sub,
    async close() {
      if (sub.destroy !== undefined) sub.destroy()
      else await sub.disconnect?.()
    },
  }
}

// The listener is kept per subscription so a re-subscribe does not add a second one.
const listeners = new WeakMap<object, (message: string) => void>()

function nodeRedisConnection(client: NodeRedisLike): RedisConnection {
  return {
    command: (_key, args) => client.sendCommand(args),
    async masters() {
      return [(args: string[]) => client.sendCommand(args)]
    },
    async subscribe(_channel, events) {
      const sub = client.duplicate()
      const subscription = nodeRedisSubscribe(sub, events)
      listeners.set(subscription, (message) => events.message(message))
      await sub.connect().catch(() => undefined)
      return subscription
    },
    async resubscribe(subscription, channel) {
      const sub = (subscription as OwnedSubscription).connection as NodeRedisLike
      await sub.subscribe(channel, listeners.get(subscription)!)
    },
    subscriberReady(subscription) {
      return ((subscription as OwnedSubscription).connection as NodeRedisLike).isReady !== false
    },
  }
}

function nodeRedisClusterConnection(cluster: NodeRedisClusterLike): RedisConnection {
  return {
    command: (key, args) => cluster.sendCommand(key, false, args),
    async masters() {
      const clients = await Promise.all(cluster.masters.map((master) => cluster.nodeClient(master)))
      return clients.map((node) => (args: string[]) => node.sendCommand(args))
    },
    async subscribe(_channel, events) {
      const sub = cluster.duplicate()
      const subscription = nodeRedisSubscribe(sub, events)
      listeners.set(subscription, (message) => events.message(message))
      await sub.connect().catch(() => undefined)
      return subscription
    },
    async resubscribe(subscription, channel) {
      const sub = (subscription as OwnedSubscription).connection as NodeRedisClusterLike
      await sub.subscribe(channel, listeners.get(subscription)!)
    },
    subscriberReady(subscription) {
      return ((subscription as OwnedSubscription).connection as NodeRedisClusterLike).isReady !== false
    },
  }
}

/** The message of an error reply, whatever library raised it. */
export function replyMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
