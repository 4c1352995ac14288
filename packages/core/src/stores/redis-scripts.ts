import { createHash } from 'node:crypto'
import { replyMessage } from './redis-client.js'

/*
 * The Lua scripts behind RedisStore. Each touches one session hash (KEYS[1]) or one user index,
 * so every script runs on one Redis Cluster slot. Hash layout: `c` createdAt, `t` touchedAt,
 * `x` expiresAt, `e` established ('1'), `o` owner, `d:<key>` one encoded value per session key.
 * A PUBLISH on the invalidation channel (ARGV, '' for none) tells HybridStores elsewhere to drop
 * their copy; it runs inside the script, so it costs no extra round trip and cannot be lost
 * between the change and the notice.
 */

/** A script with its SHA1, sent by EVALSHA and by EVAL when the server does not know it yet. */
export interface Script {
  readonly source: string
  readonly sha: string
}

function script(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') }
}

// Other processes' HybridStores that read this session register as holders (`h:<origin>`).
// A change drops their registrations and says so, so the writer can wait for the announcement to
// be delivered before it returns (see RedisStore#barrier).
const RELEASE_HOLDERS = `
local function release_holders(key, origin)
  local foreign = 0
  local mine = 'h:' .. origin
  for _, field in ipairs(redis.call('HKEYS', key)) do
    if string.sub(field, 1, 2) == 'h:' and field ~= mine then
      redis.call('HDEL', key, field)
      foreign = 1
    end
  end
  return foreign
end
`

/**
 * ARGV: create, createdAt, touchedAt, established, ttl (ms), expiresAt, owner, channel, message,
 * origin, hold, number of set pairs, then key/value pairs, then keys to unset.
 * Returns 0 (no session and create was false: nothing written), else 1 (updated) or 2 (created),
 * plus 4 when other processes held the session in their cache.
 * A write that finds no session and may not create one writes nothing: that is how destroy()
 * wins against a request that loaded the session before a logout and commits after it.
 */
export const WRITE = script(`${RELEASE_HOLDERS}
local key = KEYS[1]
local kind = redis.call('TYPE', key).ok
local created = 0
if kind ~= 'hash' then
  if ARGV[1] ~= '1' then return 0 end
  if kind ~= 'none' then redis.call('DEL', key) end
  created = 1
  redis.call('HSET', key, 'c', ARGV[2])
end
local t = tonumber(redis.call('HGET', key, 't'))
if t == nil or tonumber(ARGV[3]) >= t then
  redis.call('HSET', key, 't', ARGV[3], 'x', ARGV[6])
  redis.call('PEXPIRE', key, ARGV[5])
end
if ARGV[4] == '1' then redis.call('HSET', key, 'e', '1') end
if ARGV[7] ~= '' then redis.call('HSET', key, 'o', ARGV[7]) end
local i = 13
for _ = 1, tonumber(ARGV[12]) do
  redis.call('HSET', key, 'd:' .. ARGV[i], ARGV[i + 1])
  i = i + 2
end
while i <= #ARGV do
  redis.call('HDEL', key, 'd:' .. ARGV[i])
  i = i + 1
end
local foreign = release_holders(key, ARGV[10])
if ARGV[11] == '1' then redis.call('HSET', key, 'h:' .. ARGV[10], '1') end
if ARGV[8] ~= '' then redis.call('PUBLISH', ARGV[8], ARGV[9]) end
return created + 1 + 4 * foreign
`)

/**
 * ARGV: touchedAt, ttl (ms), expiresAt, channel, message, origin.
 * Returns 0 when there is no session, else { owner ('' for none), 1 if others held it, else 0 }.
 */
export const TOUCH = script(`${RELEASE_HOLDERS}
local key = KEYS[1]
if redis.call('TYPE', key).ok ~= 'hash' then return 0 end
local t = tonumber(redis.call('HGET', key, 't'))
if t == nil or tonumber(ARGV[1]) >= t then
  redis.call('HSET', key, 't', ARGV[1], 'x', ARGV[3])
  redis.call('PEXPIRE', key, ARGV[2])
end
local foreign = release_holders(key, ARGV[6])
if ARGV[4] ~= '' then redis.call('PUBLISH', ARGV[4], ARGV[5]) end
return { redis.call('HGET', key, 'o') or '', foreign }
`)

/** ARGV: channel, message, origin. Returns { owner ('' for none), 1 if others held it, else 0 }. */
export const DESTROY = script(`${RELEASE_HOLDERS}
local key = KEYS[1]
local owner = ''
local foreign = 0
if redis.call('TYPE', key).ok == 'hash' then
  owner = redis.call('HGET', key, 'o') or ''
  foreign = release_holders(key, ARGV[3])
end
redis.call('DEL', key)
if ARGV[1] ~= '' then redis.call('PUBLISH', ARGV[1], ARGV[2]) end
return { owner, foreign }
`)

/**
 * A HybridStore's cache-filling read: HGETALL, registering the reader as a holder (ARGV: origin)
 * so that writers elsewhere know to wait for their announcement to reach it.
 * Returns the flat field list ({} for no session), or 0 for a key of another type.
 */
export const READ = script(`
local key = KEYS[1]
local kind = redis.call('TYPE', key).ok
if kind == 'none' then return {} end
if kind ~= 'hash' then return 0 end
redis.call('HSET', key, 'h:' .. ARGV[1], '1')
return redis.call('HGETALL', key)
`)

/**
 * KEYS[1]: a user index (sorted set of store ids scored by expiresAt). ARGV: store id, expiresAt,
 * now. Drops members whose score has passed, raises (never lowers) this session's score, and
 * lets the index itself expire with its longest-lived session.
 */
export const INDEX = script(`
local key = KEYS[1]
redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. ARGV[3])
redis.call('ZADD', key, 'GT', ARGV[2], ARGV[1])
local top = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
local ttl = math.floor(tonumber(top[2]) - tonumber(ARGV[3]))
if ttl < 1 then ttl = 1 end
redis.call('PEXPIRE', key, ttl)
return 1
`)

/** Runs a script by its SHA, loading it with EVAL when this server has not seen it (NOSCRIPT). */
export async function runScript(
  send: (args: string[]) => Promise<unknown>,
  which: Script,
  key: string,
  args: string[],
): Promise<unknown> {
  try {
    return await send(['EVALSHA', which.sha, '1', key, ...args])
  } catch (error) {
    if (!replyMessage(error).startsWith('NOSCRIPT')) throw error
    return send(['EVAL', which.source, '1', key, ...args])
  }
}
