// What reusing decrypted values (the decryptedCacheBytes option) does to RedisStore reads of
// signed-in sessions (seven keys, as in bench/redis-app.ts), when every session fits in the memo
// and when the sessions read far outnumber it: a SessionManager open/release loop, 50 at a time,
// over sessions picked at random, against one redis-server started for the run.
// Run: npm run bench:decrypted-memo [-- <sessions, default 1000> <ms per run, default 2000>] [--json <file>]
//   (= node --import tsx --conditions=tether-source bench/decrypted-memo.ts)
import { RedisStore, SessionManager } from '@tether/core'
import { createClient } from 'redis'
import { startRedisServer } from '../test/support/redis-server.js'
import { stopAllServices } from '../test/support/services.js'
import { jsonArgument, writeResults } from './results.js'
import { SIGNED_IN } from './signed-in-session.js'

const json = jsonArgument()
const SESSIONS = Number(json.args[0] ?? 1000)
const ms = Number(json.args[1] ?? 2000)
const CONCURRENCY = 50
const SECRET = 'bench-secret-0123456789abcdef0123456789abcdef'

const server = await startRedisServer()
const client = createClient({ url: server.url })
await client.connect()
const store = new RedisStore({ client, prefix: 'bench-memo:' })

const cookies: string[] = []
const writer = new SessionManager({ secret: SECRET, store })
for (let i = 0; i < SESSIONS; i++) {
  const ctx = await writer.open(undefined)
  for (const [key, value] of Object.entries(SIGNED_IN)) ctx.session.set(key, value)
  cookies.push((await ctx.commit(false))!.split(';')[0]!)
  ctx.release()
}

/** Node CPU µs per session read, with a fresh manager (and memo) of `bytes`. */
async function cpuPerRead(bytes: number | undefined): Promise<number> {
  const manager = new SessionManager({
    secret: SECRET,
    store,
    ...(bytes === undefined ? {} : { decryptedCacheBytes: bytes }),
  })
  const loop = async (duration: number) => {
    let done = 0
    const deadline = performance.now() + duration
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (performance.now() < deadline) {
          const ctx = await manager.open(cookies[Math.floor(Math.random() * SESSIONS)])
          ctx.release()
          done++
        }
      }),
    )
    return done
  }
  await loop(ms / 4) // warm-up, and fills the memo
  const before = process.cpuUsage()
  const done = await loop(ms)
  const cpu = process.cpuUsage(before)
  return (cpu.user + cpu.system) / done
}

const SIZES: Array<[string, number | undefined]> = [
  ['off (0)', 0],
  ['64 KiB', 64 * 1024],
  ['default (8 MiB)', undefined],
]
const results = new Map<string, number[]>()
for (let round = 0; round < 3; round++) {
  for (const [name, bytes] of SIZES)
    results.set(name, [...(results.get(name) ?? []), await cpuPerRead(bytes)])
}
console.log(
  `${SESSIONS} signed-in sessions (7 keys), ${CONCURRENCY} reads at a time, 3 alternating rounds of ${ms} ms`,
)
console.log('| decryptedCacheBytes | node CPU µs per read, each round |\n| --- | --- |')
for (const [name, values] of results)
  console.log(`| ${name} | ${values.map((v) => v.toFixed(1)).join(', ')} |`)
writeResults(json.file, 'decrypted-memo', json.args, {
  settings: { sessions: SESSIONS, concurrency: CONCURRENCY, ms },
  cpuPerRead: Object.fromEntries(results),
})
await client.quit()
await stopAllServices()
