// A stranger's install: the packages are packed (npm run pack), installed from the tarballs into a
// fresh app with plain npm, and the README's Express, Fastify and cluster snippets run there as
// printed (compiled with TypeScript), next to a plain-ESM and a CommonJS app.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect } from 'chai'
import { cookieOf, request } from '../support/http-client.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const SECRET = 'a-secret-of-at-least-32-characters-for-the-install-test'

/** The ```ts block that follows `heading` in the top README. */
function readmeSnippet(heading: string): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const at = readme.indexOf(`\n${heading}\n`)
  if (at < 0) throw new Error(`README has no "${heading}"`)
  const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(at))
  if (block === null) throw new Error(`no ts block after "${heading}"`)
  return block[1]!
}

/** Runs `file` in the app with plain Node and resolves with the port it prints. */
function startApp(dir: string, file: string, running: ChildProcess[]): Promise<number> {
  const child = spawn(process.execPath, [file], {
    cwd: dir,
    env: { ...process.env, NODE_OPTIONS: '', SESSION_SECRET: SECRET },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  running.push(child)
  let output = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${file} printed no port in 20 s:\n${output}`)), 20_000)
    const read = (chunk: Buffer) => {
      output += chunk.toString()
      const match = /"port":(\d+)/.exec(output)
      if (match !== null) {
        clearTimeout(timer)
        resolve(Number(match[1]))
      }
    }
    child.stdout!.on('data', read)
    child.stderr!.on('data', read)
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code}:\n${output}`)))
  })
}

/** The Express snippet's journey: log in, read the cart, log out. */
async function expectShopWorks(port: number): Promise<void> {
  expect((await request(port, '/cart')).status, 'cart without a session').to.not.equal(200)
  const login = await request(port, '/login', { method: 'POST' })
  expect(login.status).to.equal(302)
  const cookie = cookieOf(login)
  const cart = await request(port, '/cart', { headers: { cookie } })
  expect(cart).to.include({ status: 200, text: '[]' })
  expect((await request(port, '/logout', { method: 'POST', headers: { cookie } })).status).to.equal(200)
  expect((await request(port, '/cart', { headers: { cookie } })).status).to.not.equal(200)
}

describe('installing the packed packages into a new app with npm', function () {
  this.timeout(300_000)
  const dir = mkdtempSync(join(tmpdir(), 'tether-install-'))
  const running: ChildProcess[] = []

  before(() => {
    execFileSync(process.execPath, [join(root, 'scripts/pack.mjs')], { cwd: root, stdio: 'ignore' })
    const tarballs = readdirSync(join(root, 'dist-packages')).map((f) => join(root, 'dist-packages', f))
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({ name: 'stranger-app', private: true, type: 'module' }),
    )
    execFileSync(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        ...tarballs,
        'express@5',
        'fastify@5',
        '@types/express@5',
        '@types/node@20',
      ],
      { cwd: dir, stdio: 'ignore', env: { ...process.env, NODE_OPTIONS: '' } },
    )
    // The README's snippets, as printed, plus the lines that start them.
    const express = readmeSnippet('### Express')
    writeFileSync(join(dir, 'express-app.ts'), `${express}\nexport const createApp = () => app\n`)
    writeFileSync(
      join(dir, 'express-server.ts'),
      "import { createApp } from './express-app.js'\nconst server = createApp().listen(0, '127.0.0.1', () => console.log(JSON.stringify(server.address())))\n",
    )
    writeFileSync(
      join(dir, 'fastify-server.ts'),
      `${readmeSnippet('### Fastify')}\nawait app.listen({ port: 0, host: '127.0.0.1' })\nconsole.log(JSON.stringify(app.server.address()))\n`,
    )
    const cluster = readmeSnippet('### A cluster on one machine')
      .replace("'./app.js'", "'./express-app.js'")
      .replace('workers: 4, port: 3000', 'workers: 2, port: 0')
    writeFileSync(
      join(dir, 'cluster.ts'),
      `${cluster}\nconsole.log(JSON.stringify({ port: cluster.port }))\n`,
    )
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          target: 'es2022',
          strict: true,
          skipLibCheck: true,
          outDir: 'dist',
        },
        include: ['*.ts'],
      }),
    )
    execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', dir], {
      stdio: 'pipe',
    })
    // The same app for users of plain ES modules and of require().
    const plain = (load: string) => `${load}
const app = express()
app.use(stickySession({ secret: process.env.SESSION_SECRET }))
app.post('/login', async (req, res) => {
  await req.session.regenerate()
  req.session.set('user', { id: 42 })
  res.redirect('/cart')
})
app.get('/cart', requireSession(), (req, res) => res.json(req.session.get('cart') ?? []))
app.post('/logout', async (req, res) => {
  await req.session.destroy()
  res.end()
})
const server = app.listen(0, '127.0.0.1', () => console.log(JSON.stringify(server.address())))
`
    writeFileSync(
      join(dir, 'esm.mjs'),
      plain("import express from 'express'\nimport { requireSession, stickySession } from '@tether/express'"),
    )
    writeFileSync(
      join(dir, 'cjs.cjs'),
      plain(
        "const express = require('express')\nconst { requireSession, stickySession } = require('@tether/express')",
      ),
    )
  })
  after(() => {
    for (const child of running) child.kill('SIGTERM')
    rmSync(dir, { recursive: true, force: true })
  })

  it('installs @tether/core as a real dependency (no workspace range left)', () => {
    const manifest = JSON.parse(readFileSync(join(dir, 'node_modules/@tether/express/package.json'), 'utf8'))
    expect(manifest.dependencies['@tether/core']).to.match(/^\^\d+\.\d+\.\d+$/)
    expect(readdirSync(join(dir, 'node_modules/@tether/core'))).to.include.members([
      'LICENSE',
      'README.md',
      'dist',
    ])
  })

  it("runs the README's Express snippet (compiled TypeScript)", async () => {
    await expectShopWorks(await startApp(dir, 'dist/express-server.js', running))
  })

  it("runs the README's Fastify snippet (compiled TypeScript)", async () => {
    const port = await startApp(dir, 'dist/fastify-server.js', running)
    expect((await request(port, '/cart')).status).to.equal(401)
  })

  it("runs the README's cluster snippet over the Express app", async () => {
    const port = await startApp(dir, 'dist/cluster.js', running)
    await expectShopWorks(port)
    const first = await request(port, '/login', { method: 'POST' })
    const again = await request(port, '/cart', { headers: { cookie: cookieOf(first) } })
    expect(again.status).to.equal(200)
  })

  it('works from plain ES modules and from require()', async () => {
    await expectShopWorks(await startApp(dir, 'esm.mjs', running))
    await expectShopWorks(await startApp(dir, 'cjs.cjs', running))
  })
})
