// Lets a test hold a request inside its handler and release it at a chosen moment, with no sleeps.

/** A named barrier: handlers `wait(name)`, the test `reached(name)` then `open(name)`. */
export class Gates {
  readonly #waiting = new Map<string, { resolve: () => void; promise: Promise<void> }>()
  readonly #arrivals = new Map<string, { resolve: () => void; promise: Promise<void> }>()

  /** Called by a handler: resolves when the test opens the gate. */
  wait(name: string): Promise<void> {
    this.#slot(this.#arrivals, name).resolve()
    return this.#slot(this.#waiting, name).promise
  }

  /** Resolves once a handler is waiting at the gate. */
  reached(name: string): Promise<void> {
    return this.#slot(this.#arrivals, name).promise
  }

  open(name: string): void {
    this.#slot(this.#waiting, name).resolve()
  }

  #slot(map: Map<string, { resolve: () => void; promise: Promise<void> }>, name: string) {
    let slot = map.get(name)
    if (slot === undefined) {
      let resolve!: () => void
      const promise = new Promise<void>((r) => {
        resolve = r
      })
      slot = { resolve, promise }
      map.set(name, slot)
    }
    return slot
  }
}
