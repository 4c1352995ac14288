// Runs the pnpm version pinned in package.json's "packageManager" through npx, so a fresh
// machine needs nothing but Node.js and npm.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

const root = new URL('..', import.meta.url)
const { packageManager } = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'))
const args = ['--yes', packageManager, ...process.argv.slice(2)]
const result = spawnSync('npx', args, { stdio: 'inherit', cwd: root, shell: process.platform === 'win32' })
process.exit(result.status ?? 1)
