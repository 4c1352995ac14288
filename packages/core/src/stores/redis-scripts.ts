import { createHash } from 'node:crypto'
import { replyMessage } from './redis-client.js'

/*
 * The Lua scripts behind RedisStore. Each touches one session hash (KEYS[1]) or one user index,
 * so every script runs on one Redis Cluster slot. Hash layout: `c` createdAt, `s` seal, `t` touchedAt,
 * `x` expiresAt, `e` established ('1'), `o` owner, `d:<key>` one encoded value per session key,
 * `h:<origin>` one per HybridStore that holds a cached copy.
 * When a change finds holders other than the writer, a PUBLISH on the invalidation channel (ARGV,
 * '' for none) tells them to drop their copy. It runs inside the script, so it costs no extra
 * round trip and cannot be lost between the change and the notice; under affinity the writer is
 * the only holder and nothing is published at all.
 */

/** A script with its SHA1, sent by EVALSHA and by EVAL when the server does not know it yet. */
export interface Script {
  readonly source: string
  readonly sha: string
}

function script(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') }
}

// `h` lists the origins (space-separated) of the HybridStores holding a cached copy. A change
// clears the list and reports whether anyone other than the writer was on it, so the writer can
// announce the change and wait for the announcement to be delivered (see RedisStore#barrier).
const HOLDERS = `
local function others(holders, origin)
  if not holders then return 0 end
  for holder in string.gmatch(holders, '%S+') do
    if holder ~= origin then return 1 end
  end
  return 0
end
local function hset(key, pairs)
  for i = 1, #pairs, 1000 do
    redis.call('HSET', key, unpack(pairs, i, math.min(i + 999, #pairs)))
  end
end
`

/**
 * ARGV: create, createdAt, touchedAt, established, ttl (ms), expiresAt, owner, channel, message,
 * origin, hold, seal ('' for none), seal before ('' for none), number of set pairs, then key/value
 * pairs, then keys to unset.
 * createdAt is written only with the record, never changed afterwards; the seal is replaced by
 * every write, which first checks that the record's seal is still the one its writer saw.
 * Returns 0 (no session and create was false: nothing written), else 1 (updated) or 2 (created),
 * plus 4 when other processes held the session in their cache; or, when the record's seal is not
 * the seal before (another process wrote it meanwhile), the whole record (HGETALL) and nothing
 * written.
 * A write that finds no session and may not create one writes nothing: that is how destroy()
 * wins against a request that loaded the session before a logout and commits after it.
 */
export const WRITE = script(`${HOLDERS}
local key = KEYS[1]
local kind = redis.call('TYPE', key).ok
local fresh = kind ~= 'hash'
local pairs = {}
local newer = true
local foreign = 0
local holders = false
if fresh then
  if ARGV[1] ~= '1' then return 0 end
  if kind ~= 'none' then redis.call('DEL', key) end
  pairs = { 'c', ARGV[2] }
else
  local meta = redis.call('HMGET', key, 't', 'h', 's')
  if (meta[3] or '') ~= ARGV[13] then return redis.call('HGETALL', key) end
  local t = tonumber(meta[1])
  newer = t == nil or tonumber(ARGV[3]) >= t
  holders = meta[2]
  foreign = others(holders, ARGV[10])
  if ARGV[12] == '' and meta[3] then redis.call('HDEL', key, 's') end
end
if ARGV[12] ~= '' then
  pairs[#pairs + 1] = 's'
  pairs[#pairs + 1] = ARGV[12]
end
if newer then
  pairs[#pairs + 1] = 't'
  pairs[#pairs + 1] = ARGV[3]
  pairs[#pairs + 1] = 'x'
  pairs[#pairs + 1] = ARGV[6]
end
if ARGV[4] == '1' then
  pairs[#pairs + 1] = 'e'
  pairs[#pairs + 1] = '1'
end
if ARGV[7] ~= '' then
  pairs[#pairs + 1] = 'o'
  pairs[#pairs + 1] = ARGV[7]
end
if ARGV[11] == '1' then
  if holders ~= ARGV[10] then
    pairs[#pairs + 1] = 'h'
    pairs[#pairs + 1] = ARGV[10]
  end
elseif holders then
  redis.call('HDEL', key, 'h')
end
local i = 15
for _ = 1, tonumber(ARGV[14]) do
  pairs[#pairs + 1] = 'd:' .. ARGV[i]
  pairs[#pairs + 1] = ARGV[i + 1]
  i = i + 2
end
hset(key, pairs)
while i <= #ARGV do
  redis.call('HDEL', key, 'd:' .. ARGV[i])
  i = i + 1
end
if newer then redis.call('PEXPIRE', key, ARGV[5]) end
if foreign == 1 and ARGV[8] ~= '' then redis.call('PUBLISH', ARGV[8], ARGV[9]) end
if fresh then return 2 end
return 1 + 4 * foreign
`)

/**
 * The write of a new session, the common case that needs none of WRITE's checks: ARGV: ttl (ms),
 * then the record's field/value pairs. Returns 1 when it created the record, or 0 (nothing
 * written) when the key exists: a create sent again after a timeout, or garbage under the key,
 * which the caller hands to WRITE. Three commands instead of WRITE's four and no Lua loop: this
 * is the write every new visitor costs.
 */
export const CREATE = script(`
local key = KEYS[1]
if redis.call('EXISTS', key) == 1 then return 0 end
redis.call('HSET', key, unpack(ARGV, 2))
redis.call('PEXPIRE', key, ARGV[1])
return 1
`)

/** Most fields CREATE writes in one HSET (Lua's unpack has a stack limit); larger records use WRITE. */
export const CREATE_MAX_FIELDS = 1000

/**
 * ARGV: touchedAt, ttl (ms), expiresAt, channel, message, origin.
 * Returns 0 when there is no session, else { owner ('' for none), 1 if others held it, else 0 }.
 */
export const TOUCH = script(`${HOLDERS}
local key = KEYS[1]
if redis.call('TYPE', key).ok ~= 'hash' then return 0 end
local meta = redis.call('HMGET', key, 't', 'h', 'o')
local t = tonumber(meta[1])
local foreign = others(meta[2], ARGV[6])
if t == nil or tonumber(ARGV[1]) >= t then
  redis.call('HSET', key, 't', ARGV[1], 'x', ARGV[3])
  redis.call('PEXPIRE', key, ARGV[2])
end
if foreign == 1 then
  -- The writer keeps its own place on the list; the others have been told to drop their copy.
  local mine = ''
  for holder in string.gmatch(meta[2], '%S+') do
    if holder == ARGV[6] then mine = holder end
  end
  redis.call('HSET', key, 'h', mine)
  if ARGV[4] ~= '' then redis.call('PUBLISH', ARGV[4], ARGV[5]) end
end
return { meta[3] or '', foreign }
`)

/**
 * ARGV: channel, message, origin, expected owner ('' for any). Deletes the session unless it
 * belongs to someone other than the expected owner (a user index may be stale).
 * Returns { owner ('' for none), 1 if others held it else 0, 1 if deleted else 0 }.
 */
export const DESTROY = script(`${HOLDERS}
local key = KEYS[1]
local owner = ''
local foreign = 0
if redis.call('TYPE', key).ok == 'hash' then
  local meta = redis.call('HMGET', key, 'o', 'h')
  owner = meta[1] or ''
  if ARGV[4] ~= '' and owner ~= ARGV[4] then return { owner, 0, 0 } end
  foreign = others(meta[2], ARGV[3])
end
redis.call('DEL', key)
if foreign == 1 and ARGV[1] ~= '' then redis.call('PUBLISH', ARGV[1], ARGV[2]) end
return { owner, foreign, 1 }
`)

/**
 * A HybridStore's cache-filling read: HGETALL, adding the reader (ARGV: origin) to the holders so
 * that writers elsewhere announce their changes to it and wait for the announcement to leave.
 * Returns the flat field list ({} for no session), or 0 for a key of another type.
 */
export const READ = script(`
local key = KEYS[1]
local kind = redis.call('TYPE', key).ok
if kind == 'none' then return {} end
if kind ~= 'hash' then return 0 end
local all = redis.call('HGETALL', key)
local holders = ''
for i = 1, #all, 2 do
  if all[i] == 'h' then holders = all[i + 1] end
end
local listed = false
for holder in string.gmatch(holders, '%S+') do
  if holder == ARGV[1] then listed = true end
end
if not listed then redis.call('HSET', key, 'h', holders .. ' ' .. ARGV[1]) end
return all
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
