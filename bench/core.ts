// Core micro-benchmarks: cookies, encryption, MemoryStore, and MemoryStore's expiry pass against a
// naive full scan of the same sessions.
// Run: npm run bench:core [-- --json <file>]
//   (= node --expose-gc --import tsx --conditions=tether-source bench/core.ts)

import { Keyring, MemoryStore, SessionManager, type SessionWrite } from '@tether/core'
import { issueCookieValue, verifyCookieValue } from '@tether/core/adapter'
import { decrypt, encrypt } from '../packages/core/src/crypto/cipher.js'
import { bestMs, formatRate, gc, opsPerSecond } from './measure.js'
import { jsonArgument, writeResults } from './results.js'

const json = jsonArgument()
const keyring = new Keyring('b'.repeat(32))
type Unit = 'ops/s' | 'bytes' | 'ms' | 'x'
const measures: Array<{ measure: string; value: number; unit: Unit }> = []
function shown(value: number, unit: Unit): string {
  if (unit === 'ops/s') return formatRate(value)
  if (unit === 'bytes') return `${Math.round(value)} bytes`
  if (unit === 'x') return `${value.toFixed(1)}x`
  return value < 0.1 ? `${(value * 1000).toFixed(1)} µs` : `${value.toFixed(2)} ms`
}
const report = (measure: string, value: number, unit: Unit) => {
  measures.push({ measure, value, unit })
  console.log(`${measure}: ${shown(value, unit)}`)
}

function writeOf(expiresAt: number, fields: Record<string, string> = { user: '42' }): SessionWrite {
  return { set: fields, unset: [], createdAt: 0, touchedAt: 0, expiresAt, established: false, create: true }
}

// Heap per stored session (a small session: one key)
{
  gc()
  const before = process.memoryUsage().heapUsed
  const store = new MemoryStore({ maxSessions: 200_000 })
  const far = Date.now() + 3_600_000
  for (let i = 0; i < 100_000; i++) {
    // Ids shaped like the core's: 43 base64url characters.
    await store.write(`${String(i).padStart(10, '0')}${'x'.repeat(33)}`, writeOf(far, { user: '{"id":42}' }))
  }
  gc()
  const perSession = (process.memoryUsage().heapUsed - before) / 100_000
  report('heap per stored session (43-char id, one small key)', perSession, 'bytes')
  await store.close()
}

// Cookies
{
  report(
    'cookie issue (new token + HMAC)',
    await opsPerSecond(() => issueCookieValue('w0', keyring)),
    'ops/s',
  )
  const { value } = issueCookieValue('w0', keyring)
  report('cookie verify (shape + HMAC)', await opsPerSecond(() => verifyCookieValue(value, keyring)), 'ops/s')
  const rotated = new Keyring(['n'.repeat(32), 'b'.repeat(32)])
  report('cookie verify, 2-secret ring', await opsPerSecond(() => verifyCookieValue(value, rotated)), 'ops/s')
  report(
    'forged cookie rejected (shape check only)',
    await opsPerSecond(() => verifyCookieValue('x'.repeat(5000), keyring)),
    'ops/s',
  )
}

// Encryption at rest
{
  const kib = JSON.stringify({ blob: 'x'.repeat(1000) }).slice(0, 1024)
  report(
    'encrypt + decrypt of a 1 KiB session value',
    await opsPerSecond(() => decrypt(keyring, encrypt(keyring, kib, 'id\u0000k'), 'id\u0000k')),
    'ops/s',
  )
}

// MemoryStore
{
  const store = new MemoryStore({ maxSessions: 2_000_000 })
  const ids = Array.from({ length: 100_000 }, (_, i) => `id-${i}`)
  const far = Date.now() + 3_600_000
  for (const id of ids) await store.write(id, writeOf(far))
  let i = 0
  report(
    'MemoryStore get (100k stored)',
    await opsPerSecond(() => store.get(ids[i++ % ids.length]!)),
    'ops/s',
  )
  report(
    'MemoryStore write of one key (100k stored)',
    await opsPerSecond(() =>
      store.write(ids[i++ % ids.length]!, { ...writeOf(far, { n: String(i) }), create: false }),
    ),
    'ops/s',
  )
  await store.close()
}

// One request's session work on a MemoryStore session: open, read two keys (a number and a
// small object), set the object again, commit, release (the values are copied at set and get).
{
  const manager = new SessionManager({ secret: 'b'.repeat(32), route: 'w0' })
  const first = manager.openNow(undefined)!
  first.session.set('user', { id: 42, name: 'alice', roles: ['user'] })
  first.session.set('visits', 0)
  const cookie = (first.commitNow(false) as string).split(';')[0]!
  first.release()
  report(
    'request: open, get 2 keys, set 1 small object, commit (MemoryStore)',
    await opsPerSecond(() => {
      const ctx = manager.openNow(cookie)!
      const user = ctx.session.get('user') as { id: number; name: string; roles: string[] }
      const visits = ctx.session.get('visits') as number
      ctx.session.set('user', { ...user, visits })
      ctx.commitNow(false)
      ctx.release()
    }),
    'ops/s',
  )
  report(
    'request: open, get 2 keys, commit (MemoryStore, nothing changed)',
    await opsPerSecond(() => {
      const ctx = manager.openNow(cookie)!
      void ctx.session.get('user')
      void ctx.session.get('visits')
      ctx.commitNow(false)
      ctx.release()
    }),
    'ops/s',
  )
  await manager.close()
}

// Expiry: one pass over 1,000,000 sessions of which 1% expired, against a naive full scan.
{
  const N = 1_000_000
  const now = Date.now()
  const expiresAtOf = (i: number) => (i % 100 === 0 ? now + 1_000 : now + 3_600_000 + (i % 1000) * 1000)
  const store = new MemoryStore({ maxSessions: N + 1, sweepInterval: 1000 })
  const naive = new Map<string, { expiresAt: number }>()
  for (let i = 0; i < N; i++) {
    await store.write(`s${i}`, writeOf(expiresAtOf(i)))
    naive.set(`s${i}`, { expiresAt: expiresAtOf(i) })
  }
  const at = now + 2_000
  // Both passes remove the same 10,000 expired sessions out of 1,000,000; between runs the
  // expired ones are put back so each run starts from identical data.
  const expiredIds = Array.from({ length: N / 100 }, (_, k) => `s${k * 100}`)
  let removed = 0
  const indexed = bestMs(
    () => (removed = store.sweep(at)),
    5,
    () => {
      for (const id of expiredIds) void store.write(id, writeOf(now + 1_000))
    },
  )
  let scanned = 0
  const scan = bestMs(
    () => {
      scanned = 0
      for (const [id, entry] of naive) {
        if (entry.expiresAt <= at) {
          naive.delete(id)
          scanned++
        }
      }
    },
    5,
    () => {
      for (const id of expiredIds) naive.set(id, { expiresAt: now + 1_000 })
    },
  )
  // A full scan also costs its whole length when nothing at all has expired; the index costs ~0.
  const idleScan = bestMs(() => {
    for (const [id, entry] of naive) if (entry.expiresAt <= at) naive.delete(id)
  }, 3)
  const idleIndexed = bestMs(() => store.sweep(at), 3)
  report(`expiry pass, 1M stored / 1% expired: MemoryStore (removed ${removed})`, indexed, 'ms')
  report(`expiry pass, 1M stored / 1% expired: naive full scan (removed ${scanned})`, scan, 'ms')
  report('expiry pass ratio (naive / MemoryStore)', scan / indexed, 'x')
  report('expiry pass with nothing expired: MemoryStore', idleIndexed, 'ms')
  report('expiry pass with nothing expired: naive full scan', idleScan, 'ms')
  await store.close()
}

console.log(`\nNode.js ${process.version}\n\n| measure | result |\n| --- | ---: |`)
for (const { measure, value, unit } of measures) console.log(`| ${measure} | ${shown(value, unit)} |`)
writeResults(json.file, 'core', json.args, { measures })
