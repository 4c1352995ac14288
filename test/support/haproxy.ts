// A real HAProxy process for the multi-machine tests: written config, foreground mode, a free
// loopback port, stopped at the end of the run.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { onStop } from './services.js'

/** A free TCP port on 127.0.0.1 (closed again before it is returned). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0))
    })
  })
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket()
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
    socket.connect(port, '127.0.0.1')
  })
}

export interface HaproxyHandle {
  readonly port: number
  stop(): Promise<void>
}

/**
 * Starts haproxy with `config` (which must `bind 127.0.0.1:<port>`, given to `makeConfig`) and
 * resolves once the frontend accepts connections.
 */
export async function startHaproxy(makeConfig: (port: number) => string): Promise<HaproxyHandle> {
  const port = await freeLoopbackPort()
  const dir = mkdtempSync(join(tmpdir(), 'tether-haproxy-'))
  const file = join(dir, 'haproxy.cfg')
  writeFileSync(file, makeConfig(port))
  return runHaproxy(file, port, {}, () => rmSync(dir, { recursive: true, force: true }))
}

/**
 * Starts haproxy with an existing config file (an example's own), which takes its addresses from
 * the environment (`"${VAR}"`): `env(port)` gives them, with `port` the free frontend port.
 */
export async function startHaproxyWithFile(
  file: string,
  env: (port: number) => Record<string, string>,
): Promise<HaproxyHandle> {
  const port = await freeLoopbackPort()
  return runHaproxy(file, port, env(port), () => undefined)
}

async function runHaproxy(
  file: string,
  port: number,
  extraEnv: Record<string, string>,
  cleanUp: () => void,
): Promise<HaproxyHandle> {
  try {
    execFileSync('haproxy', ['-v'], { stdio: 'ignore' })
  } catch {
    cleanUp()
    throw new Error('haproxy not found: apt-get install haproxy')
  }
  const env = { ...process.env, ...extraEnv }
  execFileSync('haproxy', ['-c', '-q', '-f', file], { env })
  const child: ChildProcess = spawn('haproxy', ['-db', '-f', file], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const deadline = Date.now() + 10_000
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL')
      cleanUp()
      throw new Error(`haproxy did not start:\n${stderr}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    }
    cleanUp()
  }
  onStop(stop)
  return { port, stop }
}
