// Real redis-server processes for the Redis tests and benchmarks: one standalone server on a free
// loopback port (or REDIS_URL when given), a 3-master Redis Cluster (optionally with a replica per
// master, for failover tests), and stop/start control for outage tests. Nothing here ever touches
// a Redis it did not start, unless REDIS_URL says so.
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { onStop } from './services.js'

const run = promisify(execFile)
const HINT = 'redis-server not found: apt-get install redis-server'

/** A redis-server process this harness controls (or the one REDIS_URL names). */
export interface RedisServerHandle {
  readonly host: string
  readonly port: number
  readonly url: string
  /** False for REDIS_URL: such a server cannot be stopped and started by the tests. */
  readonly controllable: boolean
  /** Stops the process (SIGTERM) and waits for it to exit: the port stops answering. */
  stop(): Promise<void>
  /** Starts it again on the same port (empty: it has no persistence). */
  start(): Promise<void>
  /** Freezes the process (SIGSTOP): connections stay open but nothing answers, like a hung server. */
  pause(): void
  /** Lets a paused process run again (SIGCONT). */
  resume(): void
}

/** One node's address. */
export interface RedisNodeAddress {
  host: string
  port: number
}

export interface RedisClusterOptions {
  /**
   * Replicas per master: 0 for 3 masters alone, 1 for 3 masters and 3 replicas (failover tests).
   * @default 0
   */
  replicas?: 0 | 1
}

/** A 3-master Redis Cluster on free loopback ports (with a replica per master when asked). */
export interface RedisClusterHandle {
  /** The nodes the cluster was created with (masters, then any replicas): seeds for the clients. */
  readonly nodes: Array<{ host: string; port: number }>
  /**
   * Starts one more node, joins it to the cluster as a master and moves `slots` hash slots to it
   * (from all the others): a topology change, as when a cluster is scaled out.
   */
  addMaster(slots: number): Promise<{ host: string; port: number }>
  /** The master serving `key`'s hash slot right now. */
  masterOf(key: string): Promise<RedisNodeAddress>
  /**
   * A replica failover: kills (SIGKILL, a crash) the master serving `key`'s hash slot, then waits
   * at most `ms` until one of its replicas has been promoted, serves the slot, and every surviving
   * node agrees on that and reports cluster_state:ok. Needs `replicas: 1`.
   */
  failover(key: string, ms?: number): Promise<{ killed: RedisNodeAddress; promoted: RedisNodeAddress }>
  stop(): Promise<void>
}

/** One line of CLUSTER NODES: id, address, flags, master id ('-' for a master) and slots. */
interface ClusterNodeLine {
  id: string
  port: number
  flags: string[]
  master: string
  /** Slot ranges served, [from, to] inclusive (importing/migrating markers left out). */
  slots: Array<[number, number]>
}

function parseClusterNodes(output: string): ClusterNodeLine[] {
  const nodes: ClusterNodeLine[] = []
  for (const line of output.trim().split('\n')) {
    const [id, address, flags, master, , , , , ...slots] = line.trim().split(' ')
    if (id === undefined || address === undefined || flags === undefined || master === undefined) continue
    // 127.0.0.1:port@busport[,hostname]
    const port = Number(/:(\d+)@/.exec(address)?.[1])
    const ranges: Array<[number, number]> = []
    for (const slot of slots) {
      if (slot.startsWith('[')) continue
      const [from, to] = slot.split('-').map(Number)
      ranges.push([from!, to ?? from!])
    }
    nodes.push({ id, port, flags: flags.split(','), master, slots: ranges })
  }
  return nodes
}

function servesSlot(node: ClusterNodeLine, slot: number): boolean {
  return node.slots.some(([from, to]) => slot >= from && slot <= to)
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

/**
 * A free port whose cluster bus port (port + 10000) is free too. Both below the kernel's ephemeral
 * range (32768 and up on Linux), where the outgoing connections of other tests take ports at
 * random and can take ours between this check and redis-server's bind.
 */
async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * 12_000)
    if ((await portIsFree(port)) && (await portIsFree(port + 10_000))) return port
  }
  throw new Error('no free port for redis-server after 50 attempts')
}

function startProcess(port: number, dir: string, extra: string[]): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']
    args.push('--dir', dir, '--daemonize', 'no', '--loglevel', 'notice', ...extra)
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`redis-server on port ${port} not ready after 10 s:\n${output}`))
    }, 10_000)
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer)
        child.stdout!.removeListener('data', onData)
        child.stdout!.resume()
        resolve(child)
      }
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      reject(error.code === 'ENOENT' ? new Error(HINT) : error)
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`redis-server on port ${port} exited with ${code}:\n${output}`))
    })
  })
}

function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill('SIGTERM')
  })
}

/**
 * Starts a new redis-server of its own on a free 127.0.0.1 port. No persistence unless `persistent`:
 * then every write is in the append-only file before Redis answers it, so a stop and start keeps
 * every acknowledged write (what an outage test needs to tell a lost session from a restart).
 */
export async function startRedisServer(options: { persistent?: boolean } = {}): Promise<RedisServerHandle> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'tether-redis-'))
  const extra = options.persistent === true ? ['--appendonly', 'yes', '--appendfsync', 'always'] : []
  let child: ChildProcess | undefined = await startProcess(port, dir, extra)
  const handle: RedisServerHandle = {
    host: '127.0.0.1',
    port,
    url: `redis://127.0.0.1:${port}`,
    controllable: true,
    async stop() {
      const running = child
      child = undefined
      await stopProcess(running)
    },
    async start() {
      if (child === undefined) child = await startProcess(port, dir, extra)
    },
    pause() {
      child?.kill('SIGSTOP')
    },
    resume() {
      child?.kill('SIGCONT')
    },
  }
  onStop(async () => {
    handle.resume()
    await handle.stop()
    rmSync(dir, { recursive: true, force: true })
  })
  return handle
}

let shared: Promise<RedisServerHandle> | undefined

/**
 * The run's shared server: REDIS_URL when set, else one redis-server started on first use and
 * stopped at the end of the run. Tests keep apart by key prefix; never stop it.
 */
export function sharedRedisServer(): Promise<RedisServerHandle> {
  if (shared === undefined) {
    const url = process.env.REDIS_URL
    if (url !== undefined && url !== '') {
      const parsed = new URL(url)
      const port = Number(parsed.port || 6379)
      shared = Promise.resolve({
        host: parsed.hostname,
        port,
        url,
        controllable: false,
        stop: () => Promise.reject(new Error('REDIS_URL servers are not stopped by tests')),
        start: () => Promise.resolve(),
        pause: () => {
          throw new Error('REDIS_URL servers are not paused by tests')
        },
        resume: () => undefined,
      })
    } else {
      shared = startRedisServer()
    }
  }
  return shared
}

/**
 * Starts 3 redis-server processes in cluster mode and joins them as 3 masters (no replicas), or,
 * with `replicas: 1`, 6 processes joined as 3 masters each with a replica in sync.
 */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisClusterHandle> {
  const replicas = options.replicas ?? 0
  if (replicas !== 0 && replicas !== 1) throw new TypeError('replicas must be 0 or 1')
  const dir = mkdtempSync(join(tmpdir(), 'tether-redis-cluster-'))
  const ports: number[] = []
  while (ports.length < 3 * (1 + replicas)) {
    const port = await freePort()
    if (!ports.includes(port)) ports.push(port)
  }
  const children = new Map<number, ChildProcess>()
  /** Ports of the nodes a failover killed. */
  const killed = new Set<number>()
  const clusterNode = async (port: number) =>
    children.set(
      port,
      await startProcess(port, dir, [
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        join(dir, `nodes-${port}.conf`),
        '--cluster-node-timeout',
        '2000',
        // A replica's full sync lands in its dbfilename: one file per node in the shared dir.
        '--dbfilename',
        `dump-${port}.rdb`,
        // CLUSTER SLOTS lists a replica only once its replication offset is above 0: with a ping
        // every second (10 s by default) even an idle new cluster shows its replicas to clients at
        // once, as a long-running one does.
        ...(replicas > 0 ? ['--repl-ping-replica-period', '1'] : []),
      ]),
    )
  const cli = async (port: number, ...args: string[]) =>
    (await run('redis-cli', ['-p', String(port), ...args], { timeout: 5000 })).stdout
  const survivor = () => {
    const port = ports.find((p) => !killed.has(p))
    if (port === undefined) throw new Error('every node of the cluster has been killed')
    return port
  }
  const masterOf = async (key: string) => {
    const port = survivor()
    const slot = Number((await cli(port, 'cluster', 'keyslot', key)).trim())
    const nodes = parseClusterNodes(await cli(port, 'cluster', 'nodes'))
    const master = nodes.find(
      (n) => n.flags.includes('master') && !n.flags.includes('fail') && servesSlot(n, slot),
    )
    if (master === undefined) throw new Error(`no live master serves slot ${slot} (key ${key})`)
    return { slot, master, nodes }
  }
  const handle: RedisClusterHandle = {
    nodes: ports.map((port) => ({ host: '127.0.0.1', port })),
    async addMaster(slots) {
      let port = await freePort()
      while (ports.includes(port)) port = await freePort()
      await clusterNode(port)
      const first = `127.0.0.1:${ports[0]}`
      await run('redis-cli', ['--cluster', 'add-node', `127.0.0.1:${port}`, first], { timeout: 20_000 })
      const id = (
        await run('redis-cli', ['-p', String(port), 'cluster', 'myid'], { timeout: 5000 })
      ).stdout.trim()
      // Bounded wait until every node knows every other (reshard refuses a cluster that disagrees).
      const all = [...ports, port]
      const deadline = Date.now() + 20_000
      for (const p of all) {
        for (;;) {
          const { stdout } = await run('redis-cli', ['-p', String(p), 'cluster', 'nodes'], { timeout: 5000 })
          if (stdout.trim().split('\n').length === all.length) break
          if (Date.now() > deadline) throw new Error(`node ${p} does not know the whole cluster after 20 s`)
          await new Promise((resolve) => setTimeout(resolve, 100))
        }
      }
      const reshard = [
        '--cluster',
        'reshard',
        first,
        '--cluster-from',
        'all',
        '--cluster-to',
        id,
        '--cluster-slots',
        String(slots),
        '--cluster-yes',
      ]
      // redis-cli refuses to reshard until every node agrees on the slots, which gossip settles
      // a moment after the join: a few bounded attempts.
      for (let attempt = 1; ; attempt++) {
        try {
          await run('redis-cli', reshard, { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 })
          break
        } catch (error) {
          const output = error as { stdout?: string; stderr?: string }
          if (attempt >= 5) {
            throw new Error(
              `redis-cli --cluster reshard failed:\n${output.stdout ?? ''}${output.stderr ?? ''}`,
            )
          }
          await new Promise((resolve) => setTimeout(resolve, 500))
        }
      }
      ports.push(port)
      return { host: '127.0.0.1', port }
    },
    async masterOf(key) {
      return { host: '127.0.0.1', port: (await masterOf(key)).master.port }
    },
    async failover(key, ms = 15_000) {
      const { slot, master, nodes } = await masterOf(key)
      const candidates = nodes.filter((n) => n.master === master.id && !n.flags.includes('fail'))
      if (candidates.length === 0) {
        throw new Error(
          `master ${master.port} of slot ${slot} has no replica: start the cluster with replicas: 1`,
        )
      }
      const child = children.get(master.port)
      if (child === undefined) throw new Error(`node ${master.port} was not started by this harness`)
      const exited = new Promise((resolve) => child.once('exit', resolve))
      killed.add(master.port)
      child.kill('SIGKILL')
      await exited
      // Every surviving node must see a former replica serving the slot and the cluster ok: the
      // nodes' failure detection (node timeout 2 s), the replica's election and the new
      // configuration's gossip take a few seconds.
      const deadline = Date.now() + ms
      let last = ''
      for (;;) {
        let promoted: number | undefined
        let settled = true
        for (const port of ports.filter((p) => !killed.has(p))) {
          try {
            const info = await cli(port, 'cluster', 'info')
            last = await cli(port, 'cluster', 'nodes')
            const owner = parseClusterNodes(last).find(
              (n) => n.flags.includes('master') && !n.flags.includes('fail') && servesSlot(n, slot),
            )
            const ok =
              info.includes('cluster_state:ok') &&
              owner !== undefined &&
              candidates.some((c) => c.id === owner.id) &&
              (promoted === undefined || promoted === owner.port)
            if (!ok) {
              settled = false
              break
            }
            promoted = owner.port
          } catch (error) {
            last = String(error)
            settled = false
            break
          }
        }
        if (settled && promoted !== undefined) {
          return {
            killed: { host: '127.0.0.1', port: master.port },
            promoted: { host: '127.0.0.1', port: promoted },
          }
        }
        if (Date.now() > deadline) {
          throw new Error(
            `no replica of ${master.port} took over slot ${slot} within ${ms} ms; last CLUSTER NODES:\n${last}`,
          )
        }
        await sleep(200)
      }
    },
    async stop() {
      const running = [...children.values()]
      children.clear()
      // A killed node has exited already: stopProcess returns at once for it.
      await Promise.all(running.map((child) => stopProcess(child)))
      rmSync(dir, { recursive: true, force: true })
    },
  }
  onStop(() => handle.stop())
  for (const port of ports) await clusterNode(port)
  await run(
    'redis-cli',
    [
      '--cluster',
      'create',
      ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas',
      String(replicas),
      '--cluster-yes',
    ],
    { timeout: 20_000 },
  )
  // Bounded wait until every node agrees the cluster is up. With replicas, also until every node
  // knows every other, each replica has finished its first sync (only a replica in sync can be
  // promoted), and CLUSTER SLOTS lists every replica (so clients know the replicas from the start).
  const deadline = Date.now() + 20_000
  for (const port of ports) {
    for (;;) {
      const { stdout } = await run('redis-cli', ['-p', String(port), 'cluster', 'info'], { timeout: 5000 })
      let up = stdout.includes('cluster_state:ok')
      if (up && replicas > 0) {
        const known = parseClusterNodes(await cli(port, 'cluster', 'nodes'))
        const role = await cli(port, 'info', 'replication')
        const slots = await cli(port, 'cluster', 'slots')
        up =
          known.length === ports.length &&
          (role.includes('role:master') || role.includes('master_link_status:up')) &&
          known.filter((n) => n.flags.includes('slave')).every((n) => slots.includes(n.id))
      }
      if (up) break
      if (Date.now() > deadline) throw new Error(`cluster node ${port} not ok after 20 s:\n${stdout}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  return handle
}

/** Runs one redis-cli command against a server and returns its raw output. */
export async function redisCli(server: { host: string; port: number }, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', server.host, '-p', String(server.port), ...args], {
    timeout: 10_000,
    maxBuffer: 64 * 1024 * 1024,
  })
  return stdout
}

/** Calls per command from INFO commandstats, e.g. { hgetall: 10, evalsha: 3 }. */
export function parseCommandStats(info: string): Record<string, number> {
  const calls: Record<string, number> = {}
  for (const line of info.split(/\r?\n/)) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line)
    if (match) calls[match[1]!] = Number(match[2])
  }
  return calls
}

/** A unique key prefix, so tests sharing one server never see each other's keys. */
export function uniquePrefix(label: string): string {
  return `t:${label}:${Math.random().toString(36).slice(2, 10)}:`
}
