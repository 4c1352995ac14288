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
