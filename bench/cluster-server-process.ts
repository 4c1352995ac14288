// Starts bench/cluster-server.ts in a child process (one of the clusters the cluster benchmarks
// compare) and resolves with its port once it listens.
import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const SERVER = fileURLToPath(new URL('./cluster-server.ts', import.meta.url))

export async function startClusterServer(
  mode: string,
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [...process.execArgv, SERVER, mode], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk
      const match = /\{"port":(\d+)\}/.exec(out)
      if (match) resolve(Number(match[1]))
    })
    child.once('exit', (code) => reject(new Error(`${mode} server exited with ${code}`)))
  })
  return { child, port }
}
