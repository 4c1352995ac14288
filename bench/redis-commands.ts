// What the Redis benches read off redis-server: which commands count as round trips, and its CPU.
import { redisCli } from '../test/support/redis-server.js'

// Redis commands that RedisStore only ever runs inside its Lua scripts: INFO commandstats counts
// them too, so the benchmarks subtract them when they count round trips. EXISTS is also sent on its
// own (the wait for another process's cache to hear of a change, and sessionsOf), which none of
// the benchmarks' workloads do: there one process owns each session.
export const INSIDE_SCRIPTS = new Set([
  'type',
  'exists',
  'hget',
  'hmget',
  'hset',
  'hdel',
  'hkeys',
  'pexpire',
  'publish',
  'del',
  'zadd',
  'zremrangebyscore',
])

/** CPU time redis-server has used so far (user and system), in µs: the store's side of a workload. */
export async function redisCpuMicros(server: { host: string; port: number }): Promise<number> {
  const info = await redisCli(server, 'INFO', 'cpu')
  const seconds = (name: string) => Number(new RegExp(`${name}:([0-9.]+)`).exec(info)?.[1] ?? 0)
  return (seconds('used_cpu_user') + seconds('used_cpu_sys')) * 1e6
}
