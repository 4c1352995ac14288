// Real redis-server processes for the Redis tests and benchmarks: one standalone server on a free
// loopback port (or REDIS_URL when given), with stop/start control for outage tests, and the
// process helpers redis-cluster.ts builds its clusters with. Nothing here ever touches a Redis it
// did not start, unless REDIS_URL says so.
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { onStop } from './services.js'

const run = promisify(execFile)
const HINT = 'redis-server not found: apt-get install redis-server'

/** A redis-server process this harness controls (or the one REDIS_URL names). */
export interface RedisServerHandle {
  readonly host: string
  readonly port: number
  readonly url: string
  /** False for REDIS_URL: such a server cannot be stopped and started by the tests. */
  readonly controllable: boolean
  /** Stops the process (SIGTERM) and waits for it to exit: the port stops answering. */
  stop(): Promise<void>
  /** Starts it again on the same port (empty: it has no persistence). */
  start(): Promise<void>
  /** Freezes the process (SIGSTOP): connections stay open but nothing answers, like a hung server. */
  pause(): void
  /** Lets a paused process run again (SIGCONT). */
  resume(): void
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

/**
 * A free port whose cluster bus port (port + 10000) is free too. Both below the kernel's ephemeral
 * range (32768 and up on Linux), where the outgoing connections of other tests take ports at
 * random and can take ours between this check and redis-server's bind.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * 12_000)
    if ((await portIsFree(port)) && (await portIsFree(port + 10_000))) return port
  }
  throw new Error('no free port for redis-server after 50 attempts')
}

export function startProcess(port: number, dir: string, extra: string[]): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']
    args.push('--dir', dir, '--daemonize', 'no', '--loglevel', 'notice', ...extra)
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`redis-server on port ${port} not ready after 10 s:\n${output}`))
    }, 10_000)
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer)
        child.stdout!.removeListener('data', onData)
        child.stdout!.resume()
        resolve(child)
      }
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      reject(error.code === 'ENOENT' ? new Error(HINT) : error)
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`redis-server on port ${port} exited with ${code}:\n${output}`))
    })
  })
}

export function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill('SIGTERM')
  })
}

/**
 * Starts a new redis-server of its own on a free 127.0.0.1 port. No persistence unless `persistent`:
 * then every write is in the append-only file before Redis answers it, so a stop and start keeps
 * every acknowledged write (what an outage test needs to tell a lost session from a restart).
 */
export async function startRedisServer(options: { persistent?: boolean } = {}): Promise<RedisServerHandle> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'tether-redis-'))
  const extra = options.persistent === true ? ['--appendonly', 'yes', '--appendfsync', 'always'] : []
  let child: ChildProcess | undefined = await startProcess(port, dir, extra)
  const handle: RedisServerHandle = {
    host: '127.0.0.1',
    port,
    url: `redis://127.0.0.1:${port}`,
    controllable: true,
    async stop() {
      const running = child
      child = undefined
      await stopProcess(running)
    },
    async start() {
      if (child === undefined) child = await startProcess(port, dir, extra)
    },
    pause() {
      child?.kill('SIGSTOP')
    },
    resume() {
      child?.kill('SIGCONT')
    },
  }
  onStop(async () => {
    handle.resume()
    await handle.stop()
    rmSync(dir, { recursive: true, force: true })
  })
  return handle
}

let shared: Promise<RedisServerHandle> | undefined

/**
 * The run's shared server: REDIS_URL when set, else one redis-server started on first use and
 * stopped at the end of the run. Tests keep apart by key prefix; never stop it.
 */
export function sharedRedisServer(): Promise<RedisServerHandle> {
  if (shared === undefined) {
    const url = process.env.REDIS_URL
    if (url !== undefined && url !== '') {
      const parsed = new URL(url)
      const port = Number(parsed.port || 6379)
      shared = Promise.resolve({
        host: parsed.hostname,
        port,
        url,
        controllable: false,
        stop: () => Promise.reject(new Error('REDIS_URL servers are not stopped by tests')),
        start: () => Promise.resolve(),
        pause: () => {
          throw new Error('REDIS_URL servers are not paused by tests')
        },
        resume: () => undefined,
      })
    } else {
      shared = startRedisServer()
    }
  }
  return shared
}

/** Runs one redis-cli command against a server and returns its raw output. */
export async function redisCli(server: { host: string; port: number }, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', server.host, '-p', String(server.port), ...args], {
    timeout: 10_000,
    maxBuffer: 64 * 1024 * 1024,
  })
  return stdout
}

/** Calls per command from INFO commandstats, e.g. { hgetall: 10, evalsha: 3 }. */
export function parseCommandStats(info: string): Record<string, number> {
  const calls: Record<string, number> = {}
  for (const line of info.split(/\r?\n/)) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line)
    if (match) calls[match[1]!] = Number(match[2])
  }
  return calls
}

/** A unique key prefix, so tests sharing one server never see each other's keys. */
export function uniquePrefix(label: string): string {
  return `t:${label}:${Math.random().toString(36).slice(2, 10)}:`
}
