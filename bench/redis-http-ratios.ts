// The ratios bench/redis-http.ts prints: what is compared, then the two stack:workload keys whose
// per-round throughputs (and CPU per request) are divided.
export const RATIOS: ReadonlyArray<readonly [what: string, stack: string, against: string]> = [
  [
    'express+tether+RedisStore / express+express-session+connect-redis, counter',
    'express-tether-redis:count',
    'express-session-connect-redis:count',
  ],
  [
    'express+tether+RedisStore / express+express-session+connect-redis, new sessions',
    'express-tether-redis:new',
    'express-session-connect-redis:new',
  ],
  [
    'express+tether+RedisStore, encryption off / express+express-session+connect-redis, new sessions',
    'express-tether-redis-clear:new',
    'express-session-connect-redis:new',
  ],
  ['express+tether+RedisStore counter / plain express', 'express-tether-redis:count', 'express-plain:count'],
  ['express+tether+RedisStore read / plain express', 'express-tether-redis:read', 'express-plain:read'],
  ['HybridStore / RedisStore, reads (express)', 'express-tether-hybrid:read', 'express-tether-redis:read'],
  [
    'HybridStore / RedisStore, signed-in reads (express)',
    'express-tether-hybrid:profile',
    'express-tether-redis:profile',
  ],
  [
    'express+tether+RedisStore / express+express-session+connect-redis, signed-in reads',
    'express-tether-redis:profile',
    'express-session-connect-redis:profile',
  ],
  [
    'HybridStore / RedisStore, counter (express)',
    'express-tether-hybrid:count',
    'express-tether-redis:count',
  ],
  ['HybridStore / RedisStore, reads (fastify)', 'fastify-tether-hybrid:read', 'fastify-tether-redis:read'],
  [
    'HybridStore / RedisStore, signed-in reads (fastify)',
    'fastify-tether-hybrid:profile',
    'fastify-tether-redis:profile',
  ],
  [
    'plain express / plain express + one Redis GET, reads (the most a HybridStore hit can gain)',
    'express-plain:read',
    'express-plain-get:read',
  ],
  [
    'plain fastify / plain fastify + one Redis GET, reads (the most a HybridStore hit can gain)',
    'fastify-plain:read',
    'fastify-plain-get:read',
  ],
  [
    'fastify+tether+RedisStore / fastify+@fastify/session+connect-redis, counter',
    'fastify-tether-redis:count',
    'fastify-session-connect-redis:count',
  ],
  [
    'fastify+tether+RedisStore / fastify+@fastify/session+connect-redis, new sessions',
    'fastify-tether-redis:new',
    'fastify-session-connect-redis:new',
  ],
  [
    'fastify+tether+RedisStore, encryption off / fastify+@fastify/session+connect-redis, new sessions',
    'fastify-tether-redis-clear:new',
    'fastify-session-connect-redis:new',
  ],
  [
    'express floor (random id, one SET, one Set-Cookie) / express+express-session+connect-redis, new sessions',
    'express-floor-redis:new',
    'express-session-connect-redis:new',
  ],
  [
    'express+tether+RedisStore / express floor, new sessions',
    'express-tether-redis:new',
    'express-floor-redis:new',
  ],
  [
    'fastify floor (random id, one SET, one Set-Cookie) / fastify+@fastify/session+connect-redis, new sessions',
    'fastify-floor-redis:new',
    'fastify-session-connect-redis:new',
  ],
  [
    'fastify+tether+RedisStore / fastify floor, new sessions',
    'fastify-tether-redis:new',
    'fastify-floor-redis:new',
  ],
  [
    'fastify+tether+RedisStore / fastify+@fastify/session+connect-redis, reads',
    'fastify-tether-redis:read',
    'fastify-session-connect-redis:read',
  ],
]
