// Runs an example's server.ts as a real child process on a free port and reads its URL from stdout.
import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export interface RunningExample {
  readonly url: string
  readonly output: () => string
  /** Sends SIGTERM (SIGKILL after 5 s) and resolves with the exit code (null when killed). */
  stop(): Promise<number | null>
}

/** Starts `examples/<name>/<entry>` with PORT=0 and waits (at most 15 s) for the URL it prints. */
export async function startExample(
  name: string,
  env: Record<string, string> = {},
  entry = 'server.ts',
): Promise<RunningExample> {
  const file = fileURLToPath(new URL(`../../examples/${name}/${entry}`, import.meta.url))
  // The same loader flags as this test run (tsx, and the tether-source condition in development).
  const child: ChildProcess = spawn(process.execPath, [...process.execArgv, file], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  child.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    const code = await exited
    clearTimeout(timer)
    return code
  }
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} did not print its URL in 15 s:\n${output}`)),
      15_000,
    )
    const check = () => {
      const match = /http:\/\/[\w.:[\]-]+/.exec(output)
      if (match !== null) {
        clearTimeout(timer)
        resolve(match[0])
      }
    }
    child.stdout!.on('data', check)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${name} exited with ${code}:\n${output}`))
    })
  }).catch(async (error: unknown) => {
    await stop()
    throw error
  })
  return { url, output: () => output, stop }
}
