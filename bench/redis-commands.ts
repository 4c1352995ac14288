// Redis commands that RedisStore only ever runs inside its Lua scripts: INFO commandstats counts
// them too, so the benchmarks subtract them when they count round trips.
export const INSIDE_SCRIPTS = new Set([
  'type',
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
