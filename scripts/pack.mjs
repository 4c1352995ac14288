// Writes one tarball per package to dist-packages/ (`npm run pack`): a clean build, then pnpm's
// pack, which rewrites the workspace ranges ("@tether/core": "workspace:^") to real versions.
import { spawnSync } from 'node:child_process'
import { readdirSync, rmSync } from 'node:fs'

const root = new URL('..', import.meta.url)
const run = (...args) => {
  const result = spawnSync(process.execPath, [new URL('scripts/pnpm.mjs', root).pathname, ...args], {
    stdio: ['ignore', 'ignore', 'inherit'],
    cwd: root,
  })
  if (result.status !== 0) process.exit(result.status ?? 1)
}
const out = new URL('dist-packages/', root)
rmSync(out, { recursive: true, force: true })
for (const name of readdirSync(new URL('packages/', root))) {
  // Files of a previous build that no source makes any more must not be shipped.
  rmSync(new URL(`packages/${name}/dist`, root), { recursive: true, force: true })
  rmSync(new URL(`packages/${name}/tsconfig.tsbuildinfo`, root), { force: true })
}
run('run', 'build')
run('--filter', './packages/*', 'pack', '--pack-destination', out.pathname)
for (const file of readdirSync(out)) console.log(`dist-packages/${file}`)
