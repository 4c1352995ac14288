// BENCH_PIN=1: the load generator (wrk, and this process, which runs autocannon) on CPU 0, the
// servers under test on the other CPUs (Linux, taskset). Without it, the scheduler may wake the
// load generator on the server's own CPU when an answer reaches it, and switch between the two:
// a server that answers each request as it reads it (an in-process store, a cache hit) then pays
// for a switch on many more answers than one whose answers leave in batches (after a Redis round
// trip), which weighs on their ratio beside their own work. Redis is left where it runs.
import { execFileSync } from 'node:child_process'
import { cpus } from 'node:os'

/** True when BENCH_PIN=1 asks for pinning. */
export const pinned = process.env.BENCH_PIN === '1'

const LOAD_CPU = '0'
/** Every CPU of the machine, whatever this process is pinned to. */
const CPUS = cpus().length

function servingCpus(): string {
  if (CPUS < 2) throw new Error('BENCH_PIN=1 needs at least 2 CPUs')
  return CPUS === 2 ? '1' : `1-${CPUS - 1}`
}

function taskset(args: string[]): void {
  try {
    execFileSync('taskset', args, { stdio: 'ignore' })
  } catch (error) {
    throw new Error(`BENCH_PIN=1 needs taskset (util-linux): taskset ${args.join(' ')} failed`, {
      cause: error,
    })
  }
}

/** Pins this process (autocannon runs in it) to the load generator's CPU, when asked. */
export function pinLoadGenerator(): void {
  if (pinned) taskset(['-a', '-p', '-c', LOAD_CPU, String(process.pid)])
}

/** Pins a server process, every thread of it, to the CPUs the load generator leaves, when asked. */
export function pinServer(pid: number | undefined): void {
  if (pinned && pid !== undefined) taskset(['-a', '-p', '-c', servingCpus(), String(pid)])
}

/** `command args` as run on the load generator's CPU when pinning is asked for. */
export function onLoadCpu(command: string, args: string[]): [string, string[]] {
  return pinned ? ['taskset', ['-c', LOAD_CPU, command, ...args]] : [command, args]
}

/** What the results files record about pinning. */
export function pinning(): string {
  return pinned ? `load generator on CPU ${LOAD_CPU}, servers on CPU ${servingCpus()}` : 'none'
}
