// Machine-readable output for the bench entry points: `--json <file>` on any of them writes what it
// printed as tables, with the command and the machine, so that bench/plot.ts can draw it and
// bench/README.md can say where a figure came from. bench/results/ holds the run on that page.
import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { dirname, relative } from 'node:path'

/** The machine a run was taken on. */
export interface Machine {
  cpus: number
  model: string
  node: string
  /** 1-minute load average when the bench started and when it ended: other work on the machine. */
  loadAverage: { start: number; end: number }
}

/** What every results file holds besides the bench's own figures. */
export interface ResultsHeader {
  bench: string
  /** When the run ended, ISO 8601 in UTC. */
  date: string
  /** The script and its arguments (`--json` left out), as given on the command line. */
  command: string[]
  /** BENCH_* environment variables the run was started with. */
  env: Record<string, string>
  machine: Machine
}

const loadAtStart = os.loadavg()[0]!

/**
 * Splits `--json <file>` off the script's arguments: the file (undefined when not given) and the
 * remaining arguments, for the bench's own parsing.
 */
export function jsonArgument(argv: string[] = process.argv.slice(2)): {
  file: string | undefined
  args: string[]
} {
  const at = argv.indexOf('--json')
  if (at === -1) return { file: undefined, args: argv }
  const file = argv[at + 1]
  if (file === undefined || file.startsWith('--')) throw new TypeError('--json needs a file name')
  return { file, args: [...argv.slice(0, at), ...argv.slice(at + 2)] }
}

function machine(): Machine {
  return {
    // The machine's CPUs, also when BENCH_PIN=1 has pinned this process to one of them.
    cpus: os.cpus().length,
    model: os.cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    loadAverage: { start: loadAtStart, end: os.loadavg()[0]! },
  }
}

/** Writes `results` with a {@link ResultsHeader} to `file`; does nothing when `file` is undefined. */
export function writeResults(file: string | undefined, bench: string, args: string[], results: object): void {
  if (file === undefined) return
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (name.startsWith('BENCH_') && value !== undefined) env[name] = value
  }
  const header: ResultsHeader = {
    bench,
    date: new Date().toISOString(),
    command: [relative(process.cwd(), process.argv[1]!), ...args],
    env,
    machine: machine(),
  }
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, `${JSON.stringify({ ...header, ...results }, null, 2)}\n`)
  console.error(`results written to ${file}`)
}
