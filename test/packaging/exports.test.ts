// Consumers get the built dist/ (not the TypeScript source): it must load through `import` and
// through `require` (Node >= 20.19 loads ES modules from require), with declarations beside it.
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { expect } from 'chai'

const root = fileURLToPath(new URL('../..', import.meta.url))
const packages = ['core', 'express', 'fastify', 'cluster'] as const

/** Runs a snippet in a plain Node process: no tsx, no source condition. */
function plainNode(args: string[]): string {
  return execFileSync(process.execPath, args, {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' },
  })
}

/** The names an entry point exports, loaded through `import` and through `require`. */
function exportedNames(specifier: string): { viaImport: string[]; viaRequire: string[] } {
  const viaImport = plainNode([
    '--input-type=module',
    '-e',
    `const m = await import('${specifier}'); console.log(JSON.stringify(Object.keys(m).sort()))`,
  ])
  const viaRequire = plainNode([
    '-e',
    `const m = require('${specifier}'); console.log(JSON.stringify(Object.keys(m).filter((k) => k !== '__esModule' && k !== 'module.exports').sort()))`,
  ])
  return { viaImport: JSON.parse(viaImport), viaRequire: JSON.parse(viaRequire) }
}

describe('published packages', function () {
  this.timeout(120_000)

  before(() => {
    execFileSync(
      process.execPath,
      ['node_modules/typescript/bin/tsc', '-b', ...packages.map((p) => `packages/${p}`)],
      {
        cwd: root,
        stdio: 'inherit',
      },
    )
  })

  for (const name of packages) {
    describe(`@tether/${name}`, () => {
      it('ships declarations next to its JavaScript', () => {
        expect(existsSync(`${root}/packages/${name}/dist/index.js`)).to.equal(true)
        expect(existsSync(`${root}/packages/${name}/dist/index.d.ts`)).to.equal(true)
      })

      it('loads with import and with require, exposing the same names', () => {
        const { viaImport, viaRequire } = exportedNames(`@tether/${name}`)
        expect(viaRequire).to.deep.equal(viaImport)
      })
    })
  }

  it('@tether/core/adapter loads with import and with require, exposing the same names', () => {
    const { viaImport, viaRequire } = exportedNames('@tether/core/adapter')
    expect(viaImport).to.include.members(['SessionBinding', 'FailureReplies', 'WAIT'])
    expect(viaRequire).to.deep.equal(viaImport)
    expect(existsSync(`${root}/packages/core/dist/adapter-kit.d.ts`)).to.equal(true)
  })

  it('@tether/core works from its build', () => {
    const out = plainNode([
      '--input-type=module',
      '-e',
      `import { SessionManager } from '@tether/core'
       const m = new SessionManager({ secret: 'p'.repeat(32) })
       const ctx = await m.open(undefined)
       ctx.session.set('n', 1)
       console.log(await ctx.commit(false))
       ctx.release()`,
    ])
    expect(out).to.match(/^tether\.sid=[A-Za-z0-9_-]{43}\.solo\./)
  })
})
