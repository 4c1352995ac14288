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
  once(event: string, listener: Listener): unknown
  removeListener(event: string, listener: Listener): unknown
  disconnect(): void
  status?: string
  isCluster?: boolean
  nodes?(role: 'master'): IoRedisLike[]
  connect?(): Promise<void>
}

/** What node-redis v5 clients and clusters share: connecting, pub/sub, events, state. */
interface NodeRedisConnection {
  connect(): Promise<unknown>
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>
  on(event: string, listener: Listener): unknown
  removeListener(event: string, listener: Listener): unknown
  destroy?(): void
  disconnect?(): Promise<void>
  isReady?: boolean
  isOpen?: boolean
}

/** The parts of a node-redis v5 client (`createClient()`) that Tether calls. */
export interface NodeRedisLike extends NodeRedisConnection {
  sendCommand(args: string[]): Promise<unknown>
  duplicate(): NodeRedisLike
  hGetAll: unknown
}

/** The parts of a node-redis v5 cluster (`createCluster()`) that Tether calls. */
export interface NodeRedisClusterLike extends NodeRedisConnection {
  sendCommand(firstKey: string | undefined, isReadonly: boolean | undefined, args: string[]): Promise<unknown>
  duplicate(): NodeRedisClusterLike
  nodeClient(node: unknown): Promise<NodeRedisLike> | NodeRedisLike
  readonly masters: unknown[]
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
  /**
   * Re-sends SUBSCRIBE on every subscriber (idempotent), replacing dead ones and following new
   * masters; resolves once every server confirmed it.
   */
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

/** One subscriber connection to one server. */
interface NodeSubscriber {
  subscribe(channel: string): Promise<void>
  /** Connected and able to receive. */
  ready(): boolean
  /** Closed for good (it will not reconnect by itself). */
  dead(): boolean
  close(): Promise<void>
}

/** Opens a subscriber connection on one node, wired to `events`. */
type OpenSubscriber = (events: SubscriptionEvents, channel: string) => NodeSubscriber

/**
 * Subscribers on every master (a single one for a standalone server). In a cluster a PUBLISH is
 * delivered at once to the publishing node's own subscribers and only later to the other nodes'
 * over the cluster bus; listening on every master gets it from the node that ran the change, so
 * a writer's barrier round trip to that node covers the delivery.
 */
class NodeSubscriptions implements Subscription {
  readonly #nodes: () => Promise<Map<string, OpenSubscriber>>
  readonly #events: SubscriptionEvents
  readonly #channel: string
  readonly #subscribers = new Map<string, NodeSubscriber>()
  #closed = false
  /** Stops following the client's topology changes. */
  unwatch: (() => void) | undefined

  constructor(
    nodes: () => Promise<Map<string, OpenSubscriber>>,
    events: SubscriptionEvents,
    channel: string,
  ) {
    this.#nodes = nodes
    this.#events = events
    this.#channel = channel
  }

  /** Matches the subscribers to the current masters (new, gone or dead ones), then subscribes all. */
  async resubscribe(): Promise<void> {
    const nodes = await this.#nodes()
    for (const [id, subscriber] of this.#subscribers) {
      if (!nodes.has(id) || subscriber.dead()) {
        this.#subscribers.delete(id)
        await subscriber.close().catch(() => undefined)
      }
    }
    for (const [id, open] of nodes) {
      if (!this.#subscribers.has(id) && !this.#closed)
        this.#subscribers.set(id, open(this.#events, this.#channel))
    }
    await Promise.all(
      [...this.#subscribers.values()].map((subscriber) => subscriber.subscribe(this.#channel)),
    )
  }

  ready(): boolean {
    if (this.#subscribers.size === 0) return false
    for (const subscriber of this.#subscribers.values()) if (!subscriber.ready()) return false
    return true
  }

  async close(): Promise<void> {
    this.#closed = true
    this.unwatch?.()
    const subscribers = [...this.#subscribers.values()]
    this.#subscribers.clear()
    await Promise.all(subscribers.map((subscriber) => subscriber.close().catch(() => undefined)))
  }
}

function ioRedisSubscriber(node: IoRedisLike): OpenSubscriber {
  return (events, channel) => {
    const sub = node.duplicate()
    sub.on('message', ((ch: string, message: string) => {
      if (ch === channel) events.message(message)
    }) as Listener)
    sub.on('ready', events.ready)
    for (const event of ['close', 'end', 'reconnecting', 'error']) sub.on(event, events.down)
    if (sub.status === 'wait' && sub.connect !== undefined) sub.connect().catch(() => undefined)
    // One shared wait for the connection, however many times a subscribe is retried meanwhile.
    let connected: Promise<void> | undefined
    const whenReady = (): Promise<void> => {
      if (sub.status === 'ready') return Promise.resolve()
      connected ??= new Promise<void>((resolve) => {
        sub.once('ready', () => {
          connected = undefined
          resolve()
        })
      })
      return connected
    }
    return {
      subscribe: async (ch) => {
        await whenReady()
        await sub.subscribe(ch)
      },
      ready: () => sub.status === 'ready',
      dead: () => sub.status === 'end',
      close: async () => sub.disconnect(),
    }
  }
}

function nodeRedisSubscriber(client: NodeRedisLike): OpenSubscriber {
  return (events, _channel) => {
    const sub = client.duplicate()
    const listener = (message: string) => events.message(message)
    sub.on('ready', events.ready)
    for (const event of ['end', 'error', 'reconnecting']) sub.on(event, events.down)
    const connecting = sub.connect().catch(() => undefined)
    return {
      subscribe: async (ch) => {
        await connecting
        // The same listener each time: node-redis keeps one per function, so no duplicates.
        await sub.subscribe(ch, listener)
      },
      ready: () => sub.isReady !== false,
      dead: () => sub.isOpen === false,
      close: async () => {
        if (sub.destroy !== undefined) sub.destroy()
        else await sub.disconnect?.()
      },
    }
  }
}

function nodeId(node: IoRedisLike, index: number): string {
  // A cluster node's `options` name its address (a Cluster's own options do not).
  const options = (node as { options?: { host?: string; port?: number } }).options
  return options?.host !== undefined ? `${options.host}:${options.port}` : `node-${index}`
}

function subscriptionOps(
  nodes: () => Promise<Map<string, OpenSubscriber>>,
  /** Calls `down` on topology changes; returns how to stop. */
  onTopologyChange?: (down: () => void) => () => void,
): Pick<RedisConnection, 'subscribe' | 'resubscribe' | 'subscriberReady'> {
  return {
    async subscribe(channel, events) {
      const subscription = new NodeSubscriptions(nodes, events, channel)
      // New or removed masters: the cache goes cold until every master is subscribed again.
      subscription.unwatch = onTopologyChange?.(events.down)
      return subscription
    },
    resubscribe: (subscription) => (subscription as NodeSubscriptions).resubscribe(),
    subscriberReady: (subscription) => (subscription as NodeSubscriptions).ready(),
  }
}

function ioRedisConnection(client: IoRedisLike): RedisConnection {
  const cluster = client.isCluster === true && client.nodes !== undefined
  const masters = () => (cluster ? client.nodes!('master') : [client])
  return {
    command: (_key, args) => client.call(args[0]!, ...args.slice(1)),
    async masters() {
      return masters().map((node) => (args: string[]) => node.call(args[0]!, ...args.slice(1)))
    },
    ...subscriptionOps(
      async () => new Map(masters().map((node, i) => [nodeId(node, i), ioRedisSubscriber(node)])),
      cluster
        ? (down) => {
            // +node / -node miss a replica promoted after its master failed: ioredis only flips
            // the role of the connection it already had, with no event. So the masters are also
            // compared after every slots refresh (which follows the MOVED that reveals a failover).
            const masterIds = () =>
              masters()
                .map((node, i) => nodeId(node, i))
                .sort()
                .join(' ')
            let known = masterIds()
            const check = () => {
              const now = masterIds()
              if (now === known) return
              known = now
              down()
            }
            for (const event of ['+node', '-node', 'refresh']) client.on(event, check)
            return () => {
              for (const event of ['+node', '-node', 'refresh']) client.removeListener(event, check)
            }
          }
        : undefined,
    ),
  }
}

function nodeRedisConnection(client: NodeRedisLike): RedisConnection {
  return {
    command: (_key, args) => client.sendCommand(args),
    async masters() {
      return [(args: string[]) => client.sendCommand(args)]
    },
    ...subscriptionOps(async () => new Map([['node-0', nodeRedisSubscriber(client)]])),
  }
}

/** The addresses of a node-redis cluster's masters, in its current view of the topology. */
function nodeRedisMasterIds(cluster: NodeRedisClusterLike): string[] {
  return cluster.masters.map((master, i) => {
    const m = master as { address?: string; host?: string; port?: number }
    return m.address ?? (m.host !== undefined ? `${m.host}:${m.port}` : `node-${i}`)
  })
}

/**
 * How often a node-redis cluster's view of its masters is compared with the subscribed ones:
 * node-redis emits no event when it learns a new topology (ioredis emits +node / -node).
 */
const TOPOLOGY_POLL_MS = 250

/** The least time between two topology re-reads a node-redis cluster is asked for. */
const REDISCOVER_MS = 500

/**
 * node-redis (v5) re-reads the cluster topology only when a reply says MOVED or ASK
 * (redis/node-redis#2806). After a master crashes, commands for its slots keep going to its dead
 * connection and fail without ever reaching a node that could answer MOVED, so the promoted
 * replica is never found. So a failure that may come from a topology change asks the cluster to
 * re-read it, through node-redis's own (internal) rediscover() where this version has one: one at
 * a time, at most every REDISCOVER_MS. The failed request still fails (a 503); later ones reach
 * the promoted replica.
 */
function nodeRedisRediscover(cluster: NodeRedisClusterLike): (error: unknown) => void {
  const slots = (cluster as { _slots?: { rediscover?: (startWith: unknown) => Promise<unknown> } })._slots
  let running = false
  let last = 0
  return (error) => {
    // RESP error replies start with an upper-case code: apart from CLUSTERDOWN they are about the
    // command, not the topology (MOVED and ASK node-redis follows itself). Offline, closed,
    // timed out: the node may be gone.
    const message = replyMessage(error)
    if (/^[A-Z]+ /.test(message) && !message.startsWith('CLUSTERDOWN')) return
    if (running || Date.now() - last < REDISCOVER_MS || typeof slots?.rediscover !== 'function') return
    // It asks this client's node first, then the root nodes.
    const startWith = cluster.masters
      .map((master) => (master as { client?: { isReady?: boolean } }).client)
      .find((client) => client?.isReady === true)
    if (startWith === undefined) return
    running = true
    last = Date.now()
    void slots
      .rediscover(startWith)
      .catch(() => undefined)
      .finally(() => {
        running = false
      })
  }
}

function nodeRedisClusterConnection(cluster: NodeRedisClusterLike): RedisConnection {
  const clients = () => Promise.all(cluster.masters.map((master) => cluster.nodeClient(master)))
  const rediscover = nodeRedisRediscover(cluster)
  const failed = (error: unknown): never => {
    rediscover(error)
    throw error
  }
  const subscriptions = subscriptionOps(
    async () => {
      const ids = nodeRedisMasterIds(cluster)
      const nodes = await clients()
      return new Map(nodes.map((node, i) => [ids[i]!, nodeRedisSubscriber(node)]))
    },
    (down) => {
      let known = nodeRedisMasterIds(cluster).sort().join(' ')
      const timer = setInterval(() => {
        const now = nodeRedisMasterIds(cluster).sort().join(' ')
        if (now === known) return
        known = now
        down()
      }, TOPOLOGY_POLL_MS)
      timer.unref()
      return () => clearInterval(timer)
    },
  )
  return {
    command: (key, args) => cluster.sendCommand(key, false, args).catch(failed),
    async masters() {
      return (await clients()).map((node) => (args: string[]) => node.sendCommand(args).catch(failed))
    },
    ...subscriptions,
    // A subscriber that cannot reach its master is a hint too (a HybridStore with no traffic).
    resubscribe: (subscription, channel) => subscriptions.resubscribe(subscription, channel).catch(failed),
  }
}

/** The message of an error reply, whatever library raised it. */
export function replyMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
