// The API report: every entry point's exports (values, and types marked `type`), compared with
// test/packaging/public-api.json, so that a change of public surface shows in review. After a
// deliberate change: UPDATE_PUBLIC_API=1 npx mocha test/packaging/public-api.test.ts
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { expect } from 'chai'
import ts from 'typescript'

const root = fileURLToPath(new URL('../..', import.meta.url))
const reportFile = fileURLToPath(new URL('public-api.json', import.meta.url))

/** Entry points as package.json "exports" name them, with their TypeScript source. */
function entryPoints(): Record<string, string> {
  const entries: Record<string, string> = {}
  for (const name of ['core', 'express', 'fastify', 'cluster']) {
    const manifest = JSON.parse(readFileSync(`${root}/packages/${name}/package.json`, 'utf8')) as {
      exports: Record<string, string | Record<string, string>>
    }
    for (const [subpath, target] of Object.entries(manifest.exports)) {
      if (typeof target === 'string' || target['tether-source'] === undefined) continue
      entries[`@tether/${name}${subpath.slice(1)}`] = `${root}/packages/${name}/${target['tether-source']}`
    }
  }
  return entries
}

function exportsOf(file: string): string[] {
  const program = ts.createProgram([file], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    customConditions: ['tether-source'],
    strict: true,
  })
  const checker = program.getTypeChecker()
  const module = checker.getSymbolAtLocation(program.getSourceFile(file)!)!
  return checker
    .getExportsOfModule(module)
    .map((symbol) => {
      const typeOnly = (symbol.declarations ?? []).some(
        (d) => ts.isExportSpecifier(d) && (d.isTypeOnly || d.parent.parent.isTypeOnly),
      )
      const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol
      return !typeOnly && target.flags & ts.SymbolFlags.Value ? symbol.name : `type ${symbol.name}`
    })
    .sort()
}

describe('public API report', function () {
  this.timeout(60_000)

  it('matches test/packaging/public-api.json', () => {
    const report = Object.fromEntries(
      Object.entries(entryPoints()).map(([name, file]) => [name, exportsOf(file)]),
    )
    if (process.env.UPDATE_PUBLIC_API === '1')
      writeFileSync(reportFile, `${JSON.stringify(report, null, 2)}\n`)
    const recorded = JSON.parse(readFileSync(reportFile, 'utf8')) as Record<string, string[]>
    expect(
      report,
      'the public API changed: if on purpose, regenerate the report (see the top of this file)',
    ).to.deep.equal(recorded)
  })
})
