// Starts a cluster fixture (test/cluster/fixtures/*.ts) as a child process and talks to it over
// IPC; the cluster's own workers are the fixture's children.
import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { ClusterMetricsSnapshot, ClusterOptions, SlotSnapshot } from '@tether/cluster'

/** A running cluster fixture. */
export interface ClusterFixture {
  readonly port: number
  readonly child: ChildProcess
  /** Messages the fixture sent on its own (crash-loop reports...). */
  readonly events: Array<{ type: string; route?: string }>
  metrics(): Promise<ClusterMetricsSnapshot>
  workers(): Promise<SlotSnapshot[]>
  /** Codes of the TetherWarnings the cluster's primary emitted. */
  warnings(): Promise<string[]>
  reload(): Promise<void>
  /** Closes the cluster (drain) and waits for the fixture to exit; kills it after a few seconds. */
  close(): Promise<void>
}

const running = new Set<ClusterFixture>()

/**
 * Starts `fixtures/<name>.ts` with these cluster options (and `env` added to the environment);
 * resolves once it listens. With `extra.expectFailure` the fixture's stderr is kept out of the test
 * output (a start-up that is meant to fail prints its error there) and put into the rejection.
 */
export async function startClusterFixture(
  options: ClusterOptions,
  extra: Record<string, unknown> = {},
  name = 'session-cluster',
  env: Record<string, string> = {},
): Promise<ClusterFixture> {
  const path = fileURLToPath(new URL(`../cluster/fixtures/${name}.ts`, import.meta.url))
  const child = fork(path, [], {
    env: { ...process.env, ...env, TETHER_TEST_CLUSTER: JSON.stringify({ options, ...extra }) },
    stdio: ['ignore', 'inherit', extra.expectFailure === true ? 'pipe' : 'inherit', 'ipc'],
  })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const events: Array<{ type: string; route?: string }> = []
  const waiting = new Map<number, (body: Record<string, unknown>) => void>()
  let nextId = 1
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('cluster fixture did not start within 20 s')), 20_000)
    child.on('message', (message: { type?: string; id?: number; port?: number; route?: string }) => {
      if (message.id !== undefined) waiting.get(message.id)?.(message as Record<string, unknown>)
      else if (message.type === 'ready') {
        clearTimeout(timer)
        resolve(message.port!)
      } else if (message.type !== undefined) events.push({ type: message.type, route: message.route! })
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(
        new Error(`cluster fixture exited with code ${code} before it was ready${stderr && `:\n${stderr}`}`),
      )
    })
  })
  const ask = (type: string): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const id = nextId++
      waiting.set(id, (body) => {
        waiting.delete(id)
        if (typeof body.error === 'string') reject(new Error(body.error))
        else resolve(body)
      })
      child.send({ type, id })
    })
  const fixture: ClusterFixture = {
    port,
    child,
    events,
    metrics: async () => (await ask('metrics')).metrics as ClusterMetricsSnapshot,
    workers: async () => (await ask('workers')).workers as SlotSnapshot[],
    warnings: async () => (await ask('warnings')).warnings as string[],
    reload: async () => {
      await ask('reload')
    },
    close: async () => {
      running.delete(fixture)
      if (child.exitCode !== null || child.signalCode !== null) return
      ask('close').catch(() => undefined)
      const timer = setTimeout(() => child.kill('SIGKILL'), 8_000)
      await exited
      clearTimeout(timer)
    },
  }
  running.add(fixture)
  return fixture
}

/** Closes every fixture still running (for an after() hook). */
export async function closeAllClusterFixtures(): Promise<void> {
  await Promise.all([...running].map((f) => f.close()))
}
