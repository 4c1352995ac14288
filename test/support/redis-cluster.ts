// A real Redis Cluster for the tests: 3 masters on free loopback ports (optionally with a replica
// per master, for failover tests), made of redis-server processes this harness starts and stops.
import { type ChildProcess, execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { freePort, sleep, startProcess, stopProcess } from './redis-server.js'
import { onStop } from './services.js'

const run = promisify(execFile)

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
