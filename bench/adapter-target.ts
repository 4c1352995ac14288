// Starts and stops one benchmark target (bench/adapters-server.ts) in its own process, for the
// adapter benchmarks: `startTarget('express', 'tether')` resolves with its URL once it listens.
import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { pinServer } from './cpu-pinning.js'

const SERVER = fileURLToPath(new URL('adapters-server.ts', import.meta.url))

export async function startTarget(
  framework: string,
  variant: string,
): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [...process.execArgv, SERVER, framework, variant], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`${framework}/${variant} did not start`)), 20_000)
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const match = /READY (\S+)/.exec(out)
      if (match !== null) {
        clearTimeout(timer)
        resolve(match[1]!)
      }
    })
    child.once('exit', (code) => reject(new Error(`${framework}/${variant} exited with ${code}`)))
  })
  pinServer(child.pid)
  return { url, child }
}

export async function stopTarget(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
}
