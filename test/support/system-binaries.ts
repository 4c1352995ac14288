// Tests that need a program from the system (redis-server, haproxy, openssl) declare it. Without CI set, a
// missing program turns those tests into pending ones (with the reason and the install command),
// so `npm test` passes on a fresh machine; with CI set (as .ci/run does, after installing them) a
// missing program fails the run. A one-line summary of what was skipped is printed at the end.
import { execFileSync } from 'node:child_process'

/** The programs tests may need, with how to install them on Debian. */
const INSTALL: Record<string, string> = {
  'redis-server': 'apt-get install redis-server',
  haproxy: 'apt-get install haproxy',
  openssl: 'apt-get install openssl',
  chromium: 'apt-get install chromium',
}

const found = new Map<string, boolean>()
const skipped = new Map<string, number>()

function installed(binary: string): boolean {
  let known = found.get(binary)
  if (known === undefined) {
    try {
      execFileSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' })
      known = true
    } catch {
      known = false
    }
    found.set(binary, known)
  }
  return known
}

function countTests(suite: Mocha.Suite): number {
  return suite.tests.length + suite.suites.reduce((sum, child) => sum + countTests(child), 0)
}

process.on('exit', () => {
  if (skipped.size === 0) return
  const parts = [...skipped].map(([binary, n]) => `${n} tests need ${binary} (${INSTALL[binary]})`)
  console.log(`skipped: ${parts.join('; ')}`)
})

/**
 * Like describe(), for a suite that needs these programs. When one is missing the suite is defined
 * as pending (describe.skip: no hook of it runs), and with CI set it gets one failing test instead.
 */
export function describeWith(
  binaries: string | readonly string[],
  title: string,
  body: (this: Mocha.Suite) => void,
): Mocha.Suite | undefined {
  const binary = (typeof binaries === 'string' ? [binaries] : binaries).find((b) => !installed(b))
  if (binary === undefined) return describe(title, body)
  const hint = `${binary} not found: ${INSTALL[binary] ?? `install ${binary}`}`
  if (process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false') {
    return describe(title, () => {
      it(`needs ${binary}`, () => {
        throw new Error(`${hint} (CI is set, so the tests that need it must run)`)
      })
    })
  }
  const suite = describe.skip(`${title} (pending: ${hint})`, body) as Mocha.Suite | undefined
  if (suite !== undefined) skipped.set(binary, (skipped.get(binary) ?? 0) + countTests(suite))
  return suite
}
