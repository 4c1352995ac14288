import type { WorkerProcess } from './worker-process.js'

// The primary's part of "log out everywhere" with in-process stores: a worker asks, the primary
// asks every living worker (the one that asked included), totals their answers and replies.

/** How long the primary waits for every worker's answer. */
const ANSWER_TIMEOUT_MS = 5000

/** Worker -> primary: end every session of `user` in every worker. */
export interface DestroyUserMessage {
  readonly tether: 'destroy-user'
  readonly ref: number
  readonly user: string
}

/** Primary -> worker: end the sessions of `user` you hold, and answer with EndedUserMessage. */
export interface EndUserMessage {
  readonly tether: 'end-user'
  readonly ref: number
  readonly user: string
}

/** Worker -> primary: the store ids of the user's sessions this worker ended (or why it could not). */
export interface EndedUserMessage {
  readonly tether: 'ended-user'
  readonly ref: number
  readonly ids: readonly string[]
  readonly error?: string
}

/** Primary -> worker: the answer to DestroyUserMessage `ref`: how many distinct sessions ended. */
export interface DestroyedUserMessage {
  readonly tether: 'destroyed-user'
  readonly ref: number
  readonly count: number
  readonly error?: string
}

interface Round {
  readonly asker: WorkerProcess
  readonly askerRef: number
  readonly waiting: Set<WorkerProcess>
  /** A session and its backup copy end under one id: counted once. */
  readonly ended: Set<string>
  errors: string[]
  readonly timer: NodeJS.Timeout
}

function send(w: WorkerProcess, message: EndUserMessage | DestroyedUserMessage): void {
  if (!w.exited) w.worker.send(message, undefined, {}, () => undefined)
}

export class UserSessionsRelay {
  readonly #rounds = new Map<number, Round>()
  #nextRef = 0

  /** Handles the messages of this protocol; false for any other. */
  onMessage(from: WorkerProcess, message: { tether: string }, alive: Iterable<WorkerProcess>): boolean {
    if (message.tether === 'destroy-user') {
      this.#start(from, message as DestroyUserMessage, alive)
      return true
    }
    if (message.tether === 'ended-user') {
      const answer = message as EndedUserMessage
      const round = this.#rounds.get(answer.ref)
      if (round?.waiting.delete(from) === true) {
        for (const id of answer.ids) round.ended.add(id)
        if (answer.error !== undefined) round.errors.push(`worker ${from.route}: ${answer.error}`)
        this.#finishIfDone(answer.ref, round)
      }
      return true
    }
    return false
  }

  /** A worker that exits answers nothing: what it held is gone with it (or held by its backup, which is asked too). */
  forget(w: WorkerProcess): void {
    for (const [ref, round] of this.#rounds) if (round.waiting.delete(w)) this.#finishIfDone(ref, round)
  }

  #start(asker: WorkerProcess, ask: DestroyUserMessage, alive: Iterable<WorkerProcess>): void {
    const ref = this.#nextRef++
    // Workers still building their app hold no sessions yet (and do not listen yet).
    const waiting = new Set([...alive].filter((w) => w.ready && !w.exited))
    const timer = setTimeout(() => {
      const round = this.#rounds.get(ref)
      if (round === undefined) return
      for (const w of round.waiting)
        round.errors.push(`worker ${w.route} did not answer within ${ANSWER_TIMEOUT_MS} ms`)
      round.waiting.clear()
      this.#finishIfDone(ref, round)
    }, ANSWER_TIMEOUT_MS)
    timer.unref()
    const round: Round = { asker, askerRef: ask.ref, waiting, ended: new Set(), errors: [], timer }
    this.#rounds.set(ref, round)
    for (const w of waiting) send(w, { tether: 'end-user', ref, user: ask.user })
    this.#finishIfDone(ref, round)
  }

  #finishIfDone(ref: number, round: Round): void {
    if (round.waiting.size > 0) return
    this.#rounds.delete(ref)
    clearTimeout(round.timer)
    send(round.asker, {
      tether: 'destroyed-user',
      ref: round.askerRef,
      count: round.ended.size,
      ...(round.errors.length > 0 && { error: round.errors.join('; ') }),
    })
  }
}
