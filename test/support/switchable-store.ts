// A real MemoryStore that counts the calls the core makes and fails or slows down on demand, so
// tests can break the store under a real app without mocking the framework.
import { MemoryStore, type SessionWrite, type StoredSession, type WriteConflict } from '@tether/core'

export class SwitchableStore extends MemoryStore {
  readonly calls = { get: 0, write: 0, touch: 0, destroy: 0 }
  /** While true, get() rejects as a dead server would. */
  failReads = false
  /** While true, write(), touch() and destroy() reject as a dead server would. */
  failWrites = false
  /** Milliseconds each write waits before it lands (to prove commits finish before the head). */
  writeDelay = 0
  /** While true, each write waits until the test calls the resolver it leaves in `heldWrites`. */
  holdWrites = false
  readonly heldWrites: Array<() => void> = []

  get totalCalls(): number {
    return this.calls.get + this.calls.write + this.calls.touch + this.calls.destroy
  }

  override async get(id: string): Promise<StoredSession | undefined> {
    this.calls.get++
    if (this.failReads) throw new Error('connection refused (store down)')
    return super.get(id)
  }

  override async write(id: string, change: SessionWrite): Promise<boolean | WriteConflict> {
    this.calls.write++
    if (this.failWrites) throw new Error('connection refused (store down)')
    if (this.writeDelay > 0) await new Promise((resolve) => setTimeout(resolve, this.writeDelay))
    if (this.holdWrites) await new Promise<void>((resolve) => this.heldWrites.push(resolve))
    return super.write(id, change)
  }

  override async touch(id: string, touchedAt: number, expiresAt: number): Promise<boolean> {
    this.calls.touch++
    if (this.failWrites) throw new Error('connection refused (store down)')
    return super.touch(id, touchedAt, expiresAt)
  }

  override async destroy(id: string): Promise<void> {
    this.calls.destroy++
    if (this.failWrites) throw new Error('connection refused (store down)')
    return super.destroy(id)
  }
}
