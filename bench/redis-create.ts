// What creating one session costs redis-server itself, by the shape of the write: RedisStore's
// create script (EXISTS, HSET, PEXPIRE in one EVALSHA), the same script without EXISTS, the two
// writes in MULTI/EXEC, the two writes merely pipelined (no atomicity: a record could outlive a
// lost PEXPIRE), and connect-redis's single SET of a string with PX. Each create writes a record
// of RedisStore's shape (createdAt, touchedAt, expiresAt, seal, one encrypted value) under a fresh
// key, 50 in flight, against one redis-server started for the run; Redis CPU per create comes from
// INFO cpu around each shape. Shapes alternate within each round.
// Run: npm run bench:redis-create [-- <creates per shape and round, default 100000> <rounds, default 3>] [--json <file>]
//   (= node --import tsx --conditions=tether-source bench/redis-create.ts)
import { randomBytes } from 'node:crypto'
import { createClient } from 'redis'
import { CREATE } from '../packages/core/src/stores/redis-scripts.js'
import { startRedisServer } from '../test/support/redis-server.js'
import { stopAllServices } from '../test/support/services.js'
import { redisCpuMicros } from './redis-commands.js'
import { jsonArgument, writeResults } from './results.js'

const json = jsonArgument()
const CREATES = Number(json.args[0] ?? 100_000)
const ROUNDS = Number(json.args[1] ?? 3)
const IN_FLIGHT = 50
const TTL = '1800000'

const server = await startRedisServer()
const client = createClient({ url: server.url })
await client.connect()
const withoutExists = `redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1`
const shaWithoutExists = String(await client.sendCommand(['SCRIPT', 'LOAD', withoutExists]))
await client.sendCommand(['SCRIPT', 'LOAD', CREATE.source])

const now = Date.now()
// A record as RedisStore creates it for a new session with one encrypted value.
const fields = [
  'c',
  String(now),
  't',
  String(now),
  'x',
  String(now + 1_800_000),
  's',
  `1.${randomBytes(16).toString('base64url')}`,
  'd:count',
  randomBytes(34).toString('base64url'),
]
// What connect-redis stores for the same session: express-session's JSON with its cookie.
const sessionJson = JSON.stringify({
  cookie: { originalMaxAge: 1_800_000, expires: new Date(now + 1_800_000), httpOnly: true, path: '/' },
  count: 1,
})

const shapes: Record<string, (key: string) => Promise<unknown>> = {
  'EVALSHA: EXISTS + HSET + PEXPIRE (RedisStore)': (key) =>
    client.sendCommand(['EVALSHA', CREATE.sha, '1', key, TTL, ...fields]),
  'EVALSHA: HSET + PEXPIRE': (key) =>
    client.sendCommand(['EVALSHA', shaWithoutExists, '1', key, TTL, ...fields]),
  'MULTI, HSET, PEXPIRE, EXEC': (key) =>
    client
      .multi()
      .addCommand(['HSET', key, ...fields])
      .addCommand(['PEXPIRE', key, TTL])
      .exec(),
  'HSET and PEXPIRE pipelined, not atomic': (key) =>
    Promise.all([client.sendCommand(['HSET', key, ...fields]), client.sendCommand(['PEXPIRE', key, TTL])]),
  'SET ... PX (connect-redis)': (key) => client.sendCommand(['SET', key, sessionJson, 'PX', TTL]),
}

/** Redis CPU µs per create of one shape, each under a fresh key. */
async function measure(create: (key: string) => Promise<unknown>): Promise<number> {
  await client.sendCommand(['FLUSHALL'])
  const before = await redisCpuMicros(server)
  let started = 0
  const worker = async () => {
    while (started < CREATES) {
      started++
      await create(`bench-create:${randomBytes(24).toString('base64url')}`)
    }
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker))
  return ((await redisCpuMicros(server)) - before) / CREATES
}

const perRound = new Map<string, number[]>()
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, create] of Object.entries(shapes)) {
    const micros = await measure(create)
    perRound.set(name, [...(perRound.get(name) ?? []), micros])
    console.log(`round ${round + 1} ${name}: ${micros.toFixed(2)} µs`)
  }
}
await client.quit()

console.log(`\n${CREATES} creates per shape and round, ${IN_FLIGHT} in flight, ${ROUNDS} rounds`)
console.log('| write of a new session | Redis CPU µs per create (lowest) | each round |')
console.log('| --- | ---: | --- |')
const results = [...perRound].map(([shape, rounds]) => ({ shape, lowest: Math.min(...rounds), rounds }))
for (const { shape, lowest, rounds } of results) {
  console.log(`| ${shape} | ${lowest.toFixed(2)} | ${rounds.map((r) => r.toFixed(2)).join(', ')} |`)
}
writeResults(json.file, 'redis-create', json.args, {
  settings: { creates: CREATES, rounds: ROUNDS, inFlight: IN_FLIGHT },
  results,
})
await stopAllServices()
