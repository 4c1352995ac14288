// Lost updates on one session: with one cookie, 50 parallel requests that each set a
// different key (each handler waits 0-5 ms first, like a small database call), then how many keys
// the session kept; and a request that finishes 100 ms after a logout, then whether the session
// came back. @tether/express and @tether/fastify against express-session and @fastify/session.
// Usage: npm run bench:adapters-lost-updates [-- --rounds 5] [--json <file>]
//   (= node --import tsx --conditions=tether-source bench/adapters-lost-updates.ts)
import { parseArgs } from 'node:util'
import { startTarget, stopTarget } from './adapter-target.js'
import { jsonArgument, writeResults } from './results.js'

const json = jsonArgument()
const { values } = parseArgs({ args: json.args, options: { rounds: { type: 'string', default: '5' } } })
const rounds = Number(values.rounds)
const PARALLEL = 50
const STACKS = {
  express: { tether: 'express + @tether/express', anchor: 'express + express-session' },
  fastify: { tether: 'fastify + @tether/fastify', anchor: 'fastify + @fastify/session' },
} as const

async function newSession(url: string): Promise<string> {
  const res = await fetch(`${url}/key?k=start`)
  const cookie = res.headers.getSetCookie()[0]?.split(';')[0]
  if (cookie === undefined) throw new Error('no cookie')
  return cookie
}

async function keptOf(url: string, cookie: string): Promise<{ kept: number; late: boolean }> {
  const res = await fetch(`${url}/keys?n=${PARALLEL}`, { headers: { cookie } })
  return (await res.json()) as { kept: number; late: boolean }
}

console.log(
  `${rounds} rounds per stack, ${PARALLEL} parallel requests per round, Node.js ${process.version}\n`,
)
console.log(`| stack | keys kept of ${PARALLEL} (per round) | session revived after logout |`)
console.log('| --- | --- | --- |')
const stacks: Array<{ stack: string; kept: number[]; revived: number; rounds: number }> = []
for (const framework of ['express', 'fastify'] as const) {
  for (const variant of ['tether', 'anchor'] as const) {
    const { url, child } = await startTarget(framework, variant)
    try {
      const kept: number[] = []
      for (let round = 0; round < rounds; round++) {
        const cookie = await newSession(url)
        await Promise.all(
          Array.from({ length: PARALLEL }, (_, i) => fetch(`${url}/key?k=k${i}`, { headers: { cookie } })),
        )
        kept.push((await keptOf(url, cookie)).kept)
      }
      let revived = 0
      for (let round = 0; round < rounds; round++) {
        const cookie = await newSession(url)
        const slow = fetch(`${url}/slow-set`, { headers: { cookie } })
        await new Promise((resolve) => setTimeout(resolve, 20))
        await fetch(`${url}/logout`, { method: 'POST', headers: { cookie } })
        await slow
        if ((await keptOf(url, cookie)).late) revived++
      }
      stacks.push({ stack: STACKS[framework][variant], kept, revived, rounds })
      console.log(`| ${STACKS[framework][variant]} | ${kept.join(', ')} | ${revived} of ${rounds} |`)
    } finally {
      await stopTarget(child)
    }
  }
}
writeResults(json.file, 'adapters-lost-updates', json.args, { parallel: PARALLEL, stacks })
