import type { FieldCodec } from './crypto/field-codec.js'
import type { Keyring } from './crypto/keyring.js'
import { fingerprintOf, openSeal, type RecordSeal, sealRecord } from './crypto/record-seal.js'
import { storeUnavailable } from './errors.js'
import type { LiveSession } from './live-session.js'
import type { Metrics } from './metrics.js'
import { expiryOf, type ResolvedTetherOptions } from './options.js'
import type { Session } from './session.js'
import { newFields } from './stores/fields.js'
import type { SessionStore, SessionWrite, StoredSession, WriteConflict } from './stores/store.js'
import { WAIT } from './wait.js'

/** What a flush did. */
export type FlushOutcome = 'written' | 'touched' | 'unchanged' | 'gone'

/** One write or touch of a flush. */
interface FlushStep {
  readonly now: number
  readonly expiresAt: number
  /** The session had no record yet. */
  readonly create: boolean
  /** The live session's version when the step began. */
  readonly captured: number
  /** The changes written (undefined for a touch). */
  readonly changes: Map<string, string | undefined> | undefined
  readonly write: SessionWrite | undefined
  /** With encryption at rest, the seal the write leaves on the record. */
  readonly seal: RecordSeal | undefined
}

/**
 * How many times one write is sealed again over a record that another process changed meanwhile
 * before the write gives up (503): each retry means another writer landed in between.
 */
const MAX_RESEALS = 8

/**
 * The flush engine: stores a live session's changes (encoded, and encrypted when that is on) or
 * records its activity, one write at a time per session, in the order the changes were made.
 */
export class Flusher {
  readonly #store: SessionStore
  /** The store's synchronous forms can be used (see synchronousForms()). */
  readonly #synchronous: boolean
  readonly #metrics: Metrics
  readonly #options: ResolvedTetherOptions
  readonly #touchInterval: number
  readonly #owner: ((session: Session) => string | undefined) | undefined
  readonly #codec: FieldCodec
  readonly #keyring: Keyring

  constructor(options: ResolvedTetherOptions, codec: FieldCodec) {
    this.#keyring = options.keyring
    this.#store = options.store
    this.#synchronous = options.synchronous
    this.#metrics = options.metrics
    this.#options = options
    this.#touchInterval = options.touchInterval
    this.#owner = options.owner
    this.#codec = codec
  }

  /**
   * Writes a live session's pending changes (or a due touch). Concurrent commits of one session
   * queue behind the write in flight, and a later one carries whatever changed meanwhile.
   * With `upTo` (the caller's last change, see `LiveSession.version`), the commit ends as soon as
   * that change is stored: under steady traffic on one session, changes made by later requests
   * keep arriving, and waiting for all of them would starve the earlier request.
   */
  async flush(live: LiveSession, session: Session, upTo?: number): Promise<FlushOutcome> {
    if (this.#synchronous && this.#store.writesWait === true) {
      // Stored at once, in order; only the acknowledgement is waited for, so commits of one
      // session need not queue behind each other's round trips.
      const outcome = this.#flushInPlace(live, session, upTo)
      if (outcome !== WAIT) {
        await this.#store.settled?.()
        return outcome
      }
    }
    let result: FlushOutcome = 'unchanged'
    const hadChanges = upTo !== undefined && this.#pending(live, upTo)
    for (;;) {
      const next = this.#nextStep(live, upTo)
      if (next === 'done') break
      if (next === 'wait') {
        await live.writing!.catch(() => undefined)
        continue
      }
      let step = this.#prepareStep(live, session, next)
      let ok: boolean | FlushStep = step
      for (let reseals = 0; typeof ok !== 'boolean'; reseals++) {
        step = ok
        const operation =
          step.write !== undefined
            ? this.#store.write(live.storeId!, step.write)
            : this.#store.touch(live.storeId!, step.now, step.expiresAt)
        live.writing = operation
        try {
          ok = this.#replied(live, step, await operation, reseals)
        } catch (error) {
          throw this.#stepFailed(live, step, error)
        } finally {
          live.writing = undefined
        }
      }
      result = this.#stepDone(live, step, ok, result)
      if (result === 'gone') return 'gone'
    }
    return finalOutcome(live, hadChanges, result)
  }

  /**
   * `flush()` without waiting (see wait.ts): the outcome, or WAIT when something must be written (or touched)
   * and the store has no synchronous writes, or another write of this session is still in flight.
   * Throws where `flush()` would reject.
   */
  flushNow(live: LiveSession, session: Session, upTo?: number): FlushOutcome | typeof WAIT {
    // A store whose writes wait for an acknowledgement needs flush() even where it can write at once.
    if (this.#store.writesWait === true && this.#needsStep(live, upTo)) return WAIT
    return this.#flushInPlace(live, session, upTo)
  }

  /** Whether a flush would write or touch anything. */
  #needsStep(live: LiveSession, upTo: number | undefined): boolean {
    const next = this.#nextStep(live, upTo)
    return next === 'write' || next === 'touch' || next === 'wait'
  }

  /** The synchronous flush: WAIT only when it cannot be done at once (see flushNow). */
  #flushInPlace(live: LiveSession, session: Session, upTo?: number): FlushOutcome | typeof WAIT {
    const store = this.#store as Required<Pick<SessionStore, 'writeNow' | 'touchNow'>>
    let result: FlushOutcome = 'unchanged'
    const hadChanges = upTo !== undefined && this.#pending(live, upTo)
    for (;;) {
      const next = this.#nextStep(live, upTo)
      if (next === 'done') break
      // Only on the first turn: a synchronous write never leaves one in flight.
      if (next === 'wait') return WAIT
      // Nothing to store costs no wait with any store; a write or touch does unless it is in-process.
      if (!this.#synchronous) return WAIT
      let step = this.#prepareStep(live, session, next, false)
      let ok: boolean | FlushStep = step
      // The record still matched this session before the write: then it matches it after.
      const record = live.record
      const matched = record !== undefined && record.revision === live.revision
      live.record = undefined
      for (let reseals = 0; typeof ok !== 'boolean'; reseals++) {
        step = ok
        try {
          const reply =
            step.write !== undefined
              ? store.writeNow(live.storeId!, step.write)
              : store.touchNow(live.storeId!, step.now, step.expiresAt)
          ok = this.#replied(live, step, reply, reseals)
        } catch (error) {
          // The changes are still in the dirty map (the step read it in place): nothing to put back.
          throw this.#stepFailed(live, step, error)
        }
      }
      if (ok && matched && record.revision === live.revision! + 1) {
        live.record = record
        live.revision = record.revision
      }
      if (step.changes !== undefined) live.dirty.clear()
      result = this.#stepDone(live, step, ok, result)
      if (result === 'gone') return 'gone'
    }
    return finalOutcome(live, hadChanges, result)
  }

  /** What a live session needs next: nothing, the write in flight to end, a write or a touch. */
  #nextStep(live: LiveSession, upTo: number | undefined): 'done' | 'wait' | 'write' | 'touch' {
    if (live.ended) return 'done'
    if (!(this.#pending(live, upTo) || !live.stored || live.touchRequested || this.#touchDue(live)))
      return 'done'
    if (live.writing !== undefined) return 'wait'
    if (live.dirty.size === 0 && !live.stored) return 'done' // nothing was ever set: stay lazy
    return live.dirty.size > 0 || !live.stored ? 'write' : 'touch'
  }

  /**
   * The next step's data. `detach` hands the changes over and collects later ones in a new map
   * (a write that waits lets other requests change the session meanwhile); a synchronous write
   * reads the dirty map itself, which is cleared once the store took it.
   */
  #prepareStep(live: LiveSession, session: Session, kind: 'write' | 'touch', detach = true): FlushStep {
    const now = Date.now()
    const expiresAt = expiryOf(this.#options, live.createdAt, now)
    const create = !live.stored
    const captured = live.version
    if (kind === 'touch') {
      live.touchRequested = false
      return { now, expiresAt, create, captured, changes: undefined, write: undefined, seal: undefined }
    }
    const changes = live.dirty
    if (detach) live.dirty = new Map()
    const write = this.#writeOf(live, changes, now, expiresAt, session)
    return { now, expiresAt, create, captured, changes, write, seal: this.#sealWrite(live, write) }
  }

  /**
   * With encryption at rest, seals the record as `write` leaves it, from the seal the live
   * session last saw (see record-seal.ts), and names that seal for the store to compare.
   */
  #sealWrite(live: LiveSession, write: SessionWrite): RecordSeal | undefined {
    if (!this.#codec.authenticated) return undefined
    const before = live.seal
    const fingerprints = new Map(before?.fingerprints)
    for (const key of write.unset) fingerprints.delete(key)
    for (const key of Object.keys(write.set)) fingerprints.set(key, fingerprintOf(write.set[key]!))
    const meta = {
      storeId: live.storeId!,
      route: live.route,
      createdAt: write.createdAt,
      established: write.established,
    }
    const seal = sealRecord(this.#keyring, meta, (before?.writeNumber ?? 0) + 1, fingerprints)
    write.seal = seal.seal
    if (before !== undefined) write.sealBefore = before.seal
    else delete write.sealBefore
    return seal
  }

  /**
   * What a store's reply to a step means: whether it landed (false: the session is gone), or the
   * step sealed again over the record another process left meanwhile, to be sent again.
   */
  #replied(
    live: LiveSession,
    step: FlushStep,
    reply: boolean | WriteConflict,
    reseals: number,
  ): boolean | FlushStep {
    if (typeof reply === 'boolean') return reply
    const resealed = this.#reseal(live, step, reply.conflict, reseals)
    if (resealed !== undefined) return resealed
    // Not awaited: the removal goes out before this session's next request can load the record.
    void this.#forgetTampered(live)
    return false
  }

  /**
   * The step again, sealed over `current`, the record another process left since this session
   * last saw it; undefined when `current` cannot be trusted: its seal does not verify, or it is
   * older than a write this session saw (a record put back). Throws after MAX_RESEALS tries (the
   * caller answers it as a failed store call).
   */
  #reseal(
    live: LiveSession,
    step: FlushStep,
    current: StoredSession,
    reseals: number,
  ): FlushStep | undefined {
    if (reseals >= MAX_RESEALS) {
      throw new Error(`the record kept changing under ${MAX_RESEALS} writes`)
    }
    const established = current?.established === true
    const meta = { storeId: live.storeId!, route: live.route, createdAt: live.createdAt, established }
    const fields = typeof current === 'object' && current !== null ? current.fields : undefined
    const seal =
      typeof fields === 'object' && fields !== null
        ? openSeal(this.#keyring, current.seal, meta, fields)
        : undefined
    if (seal === undefined || seal.writeNumber < (live.seal?.writeNumber ?? 0)) return undefined
    live.seal = seal
    live.established ||= established
    const write = { ...step.write!, established: live.established }
    return { ...step, write, seal: this.#sealWrite(live, write) }
  }

  /**
   * A record that failed its seal when a write met it: the write is dropped and the record
   * removed, as a load would have done, so no request is served from it.
   */
  async #forgetTampered(live: LiveSession): Promise<void> {
    this.#metrics.increment('decryptFailures')
    try {
      await this.#store.destroy(live.storeId!)
    } catch {
      this.#metrics.increment('storeErrors')
    }
  }

  /** A failed step: its changes go back (unless newer ones replaced them) for the next commit. */
  #stepFailed(live: LiveSession, step: FlushStep, error: unknown): Error {
    if (step.changes !== undefined) {
      for (const [k, v] of step.changes) if (!live.dirty.has(k)) live.dirty.set(k, v)
    }
    this.#metrics.increment('storeErrors')
    return storeUnavailable(error)
  }

  #stepDone(live: LiveSession, step: FlushStep, ok: boolean, result: FlushOutcome): FlushOutcome {
    if (!ok) {
      // Destroyed elsewhere (logout in another request or process): do not bring it back.
      live.ended = true
      return 'gone'
    }
    live.touchedAt = step.now
    if (step.changes === undefined) {
      this.#metrics.increment('touched')
      return result === 'unchanged' ? 'touched' : result
    }
    if (step.create) this.#metrics.increment('created')
    live.stored = true
    if (step.seal !== undefined) live.seal = step.seal
    if (step.captured > live.savedVersion) live.savedVersion = step.captured
    return 'written'
  }

  /** Whether changes are waiting to be stored: all of them, or only those up to `upTo`. */
  #pending(live: LiveSession, upTo: number | undefined): boolean {
    // Nothing dirty and nothing in flight: every change made so far is in the store.
    if (live.dirty.size === 0 && live.writing === undefined) live.savedVersion = live.version
    return upTo === undefined ? live.dirty.size > 0 : live.savedVersion < upTo
  }

  #touchDue(live: LiveSession): boolean {
    return live.stored && Date.now() - live.touchedAt >= this.#touchInterval
  }

  #writeOf(
    live: LiveSession,
    changes: Map<string, string | undefined>,
    now: number,
    expiresAt: number,
    session: Session,
  ): SessionWrite {
    // Keys come from the app (and so from users): `__proto__` must be a key like any other.
    const set = newFields()
    const unset: string[] = []
    for (const [key, json] of changes) {
      if (json === undefined) unset.push(key)
      else set[key] = this.#codec.encode(live.storeId!, key, json)
    }
    const write: SessionWrite = {
      set,
      unset,
      createdAt: live.createdAt,
      touchedAt: now,
      expiresAt,
      established: live.established,
      create: !live.stored,
      route: live.route,
    }
    const owner = this.#owner?.(session)
    if (owner !== undefined) write.owner = owner
    return write
  }
}

/** A flush's outcome once no step is left. */
function finalOutcome(live: LiveSession, hadChanges: boolean, result: FlushOutcome): FlushOutcome {
  // Another request's write carried this one's changes.
  if (hadChanges && result === 'unchanged') result = 'written'
  return live.ended ? 'gone' : result
}
