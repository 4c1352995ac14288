import type { ReplicaSource } from '@tether/core/adapter'
import { decodeBatch } from './peer-frames.js'
import type { ReplicaPeer } from './peer-link.js'
import { type IncomingLink, PeerListener } from './peer-listener.js'
import { fromWire } from './wire.js'

// The backup's side of replication: copies that other workers send straight to this one are
// applied to the store they came from (the same index in both workers, the app being the same).
// Every batch carries the epoch of the plan its sender chose this worker by. The primary sends a
// new plan to every worker at once, but a sender may act on it before this worker has read it:
// such a batch waits (and its connection stops reading) until this worker has that plan, so it is
// never thrown away as a copy of a route this worker does not keep yet.

/** How long 'async' lets acknowledgements gather: nobody waits for them, the owner's bound aside. */
const ASYNC_ACK_MS = 10

export class ReplicaReceiver {
  readonly #sources: readonly ReplicaSource[]
  readonly #keeps: () => ReadonlySet<string>
  readonly #sync: boolean
  #epoch = 0
  #listener: PeerListener | undefined
  /** Batches (their bodies) waiting for a newer plan, by connection, in order. */
  readonly #deferred = new Map<IncomingLink, Buffer[]>()

  constructor(sources: readonly ReplicaSource[], keeps: () => ReadonlySet<string>, sync: boolean) {
    this.#sources = sources
    this.#keeps = keeps
    this.#sync = sync
  }

  /** Opens this worker's replica socket; what the other workers need to reach it. */
  async listen(): Promise<ReplicaPeer> {
    this.#listener = await PeerListener.open({
      onBatch: (body, link) => this.#received(body, link),
      // 'sync': one answer per turn, shared by every batch read in it.
      schedule: this.#sync ? (send) => setImmediate(send) : (send) => setTimeout(send, ASYNC_ACK_MS).unref(),
    })
    return this.#listener.peer
  }

  /** The plan of `epoch` is in force: batches that waited for it are applied now. */
  planned(epoch: number): void {
    this.#epoch = epoch
    for (const [link, bodies] of this.#deferred) {
      try {
        while (bodies.length > 0 && bodies[0]!.readUInt32LE(0) <= epoch)
          link.acknowledge(this.#apply(bodies.shift()!))
      } catch {
        // Not a batch after all (this runs outside the connection's own error handling).
        bodies.length = 0
        link.destroy()
      }
      if (bodies.length > 0) continue
      this.#deferred.delete(link)
      link.resume()
    }
  }

  close(): void {
    this.#listener?.close()
  }

  #received(body: Buffer, link: IncomingLink): void {
    const waiting = this.#deferred.get(link)
    if (waiting !== undefined) waiting.push(body)
    else if (body.readUInt32LE(0) > this.#epoch) {
      this.#deferred.set(link, [body])
      link.pause()
    } else link.acknowledge(this.#apply(body))
  }

  /** Applies one batch; returns how many of its changes found no record (gaps). */
  #apply(body: Buffer): number {
    const keeps = this.#keeps()
    let gaps = 0
    for (const wire of decodeBatch(body).changes) {
      const source = this.#sources[wire[0]]
      const change = fromWire(wire)
      // Copies of routes this worker no longer keeps would never be dropped: ignore them.
      if (source === undefined || !keeps.has(change.route) || !source.apply(change)) gaps++
    }
    return gaps
  }
}
