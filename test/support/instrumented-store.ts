// A real MemoryStore wrapped to count calls, fail on demand, or pretend to live out of process,
// so tests can assert what the core asks of its store.
import {
  MemoryStore,
  type SessionStore,
  type SessionWrite,
  type StoredSession,
  type WriteConflict,
} from '@tether/core'

export class InstrumentedStore implements SessionStore {
  readonly inner = new MemoryStore()
  readonly inProcess: boolean
  readonly calls = { get: 0, write: 0, touch: 0, destroy: 0 }
  readonly writes: Array<{ id: string; change: SessionWrite }> = []
  /** While true, every operation rejects as a dead server would. */
  failing = false
  /** Milliseconds each write waits before it lands. */
  writeDelay = 0

  constructor(options: { inProcess?: boolean } = {}) {
    this.inProcess = options.inProcess ?? true
  }

  get totalCalls(): number {
    return this.calls.get + this.calls.write + this.calls.touch + this.calls.destroy
  }

  #check(): void {
    if (this.failing) throw new Error('connection refused (store down)')
  }

  async get(id: string): Promise<StoredSession | undefined> {
    this.calls.get++
    this.#check()
    return this.inner.get(id)
  }

  async write(id: string, change: SessionWrite): Promise<boolean | WriteConflict> {
    this.calls.write++
    this.#check()
    this.writes.push({ id, change })
    if (this.writeDelay > 0) await new Promise((resolve) => setTimeout(resolve, this.writeDelay))
    return this.inner.write(id, change)
  }

  async touch(id: string, touchedAt: number, expiresAt: number): Promise<boolean> {
    this.calls.touch++
    this.#check()
    return this.inner.touch(id, touchedAt, expiresAt)
  }

  async destroy(id: string): Promise<void> {
    this.calls.destroy++
    this.#check()
    return this.inner.destroy(id)
  }

  count(): Promise<number> {
    return this.inner.count()
  }

  close(): Promise<void> {
    return this.inner.close()
  }
}
