// Installs the workspace (once) and builds the packages, so `npm test` and `npm run demo` work
// on a fresh clone with only Node.js >= 20 and npm.
import { spawnSync } from 'node:child_process'

const [major] = process.versions.node.split('.').map(Number)
if (major < 20) {
  console.error(`Tether needs Node.js >= 20; this is ${process.version}.`)
  process.exit(1)
}
const run = (...args) => {
  const result = spawnSync(process.execPath, [new URL('pnpm.mjs', import.meta.url).pathname, ...args], {
    stdio: 'inherit',
  })
  if (result.status !== 0) process.exit(result.status ?? 1)
}
run('install', '--reporter=append-only')
run('run', 'build')
