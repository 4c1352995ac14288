import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Session } from '@tether/core'
import { WAIT } from '@tether/core/adapter'

type Method = 'writeHead' | 'write' | 'end'
type Call = { method: Method; args: unknown[] }
type AnyFunction = (...args: unknown[]) => unknown
type Originals = Record<Method, AnyFunction>

/** Where a held response stands. */
enum Phase {
  /** Nothing sent yet; the first writeHead/write/end starts the commit. */
  Waiting,
  /** The commit runs; calls are queued. */
  Holding,
  /** Calls go straight through (after the commit, or while the error answer is written). */
  Open,
  /** The commit failed and the error answer is out: the app's later writes are swallowed. */
  Failed,
}

/** What a hold waits for, and who answers when it fails. */
export interface HoldOwner {
  /** The request's session (what `req.session` shows). */
  readonly session: Session
  /** Stores the session; resolves with the Set-Cookie header to add, if any. */
  commit(): Promise<string | undefined>
  /** The same when it can be done at once (an in-process store); WAIT when commit() is needed. */
  commitNow(): string | undefined | typeof WAIT
  /** Answers instead of the held response after a failed commit (a 503). */
  fail(error: unknown): void
  /**
   * A held call of the app threw when it was replayed after the commit (a header value Node
   * refuses, say): what the app's own handler would have thrown, had the call not been held.
   */
  replayFailed(error: unknown): void
  /** The response is over: sent, or closed by the client ('close'). */
  release(): void
}

/** The hold of one response. */
class Hold {
  phase = Phase.Waiting
  /** Calls held while an asynchronous commit runs (none when the commit ran at once). */
  queue: Call[] | undefined
  refusedWrite = false

  constructor(
    readonly originals: Originals,
    readonly owner: HoldOwner,
    readonly req: IncomingMessage,
  ) {}
}

/**
 * Where a request's hold is kept. Not in a WeakMap keyed by request or response: V8 pays at every
 * scavenge for each WeakMap entry whose key is young, and a value that leads back to its key (a
 * hold reaches its response) keeps the key alive until a full GC; measured under load, two such
 * WeakMaps doubled GC time per request. Not in a new property of the request either, when it can
 * be helped: Express swaps every request's prototype, which leaves it with a dictionary of
 * properties that an added property makes V8 copy and grow (about 1.2 KB per request).
 *
 * So the hold of the request a connection is serving sits in a slot on the connection's socket,
 * added once per connection and reused by every keep-alive request on it; it is emptied when the
 * response closes. A request that arrives while the slot is taken (pipelining) keeps its hold in
 * a symbol-keyed property of its own. Either way the response reaches it through `res.req`.
 */
const SLOT = Symbol('tether.slot')
const HOLD = Symbol('tether.hold')
type WithSlot = { [SLOT]?: Hold | undefined }
type WithHold = { [HOLD]?: Hold }
type HeldResponse = ServerResponse

/**
 * The request whose hold was found last, and that hold: a request asks for it several times in a
 * row (`req.session` on each use, each held call), and the properties of Express's requests and
 * their sockets are slow to look up. Set where a hold is made, cleared where it becomes unreachable.
 */
let lastRequest: IncomingMessage | undefined
let lastHold: Hold | undefined

function holdOfRequest(req: IncomingMessage): Hold | undefined {
  if (req === lastRequest) return lastHold
  const slot = (req.socket as WithSlot | null)?.[SLOT]
  const hold = slot !== undefined && slot.req === req ? slot : (req as WithHold)[HOLD]
  if (hold !== undefined) {
    lastRequest = req
    lastHold = hold
  }
  return hold
}

function holdOf(res: ServerResponse): Hold | undefined {
  const req = res.req as IncomingMessage | undefined
  return req === undefined ? undefined : holdOfRequest(req)
}

/**
 * The response closed: its connection's slot is free for the next request. A hold that is not
 * simply open moves to its request: a response closed before it was sent (the client hung up)
 * still commits when the handler writes, and a failed one still swallows the app's late writes.
 */
function closed(hold: Hold): void {
  const socket = hold.req.socket as WithSlot | null
  if (socket?.[SLOT] === hold) {
    socket[SLOT] = undefined
    if (hold.phase !== Phase.Open) (hold.req as WithHold)[HOLD] = hold
    else if (lastHold === hold) lastRequest = lastHold = undefined
  }
  hold.owner.release()
}

/**
 * The held methods live on the response's prototype (Express gives every response its app's
 * `response` object as prototype), patched once per prototype, instead of three own methods
 * written and restored on every request, which is slow on an object as large as a ServerResponse.
 * Responses without a Hold pass straight through.
 */
const patched = new WeakMap<object, Originals>()

function patchPrototype(res: ServerResponse): Originals {
  const proto = Object.getPrototypeOf(res) as Record<Method, AnyFunction>
  let originals = patched.get(proto)
  if (originals !== undefined) return originals
  originals = { writeHead: proto.writeHead, write: proto.write, end: proto.end }
  const own = originals
  const held = (method: Method) =>
    function heldByTether(this: HeldResponse): unknown {
      const hold = holdOf(this)
      // biome-ignore lint/complexity/noArguments: no rest array on every call of a hot path.
      if (hold === undefined || hold.phase === Phase.Open) return own[method].apply(this, arguments as never)
      let args: unknown[] | undefined
      if (hold.phase === Phase.Waiting) {
        // The first call commits: at once when the owner can (then it simply goes through).
        // biome-ignore lint/complexity/noArguments: copied only when a header must be merged in.
        args = commitAtOnce(this, hold, method, arguments)
        // biome-ignore lint/complexity/noArguments: as above.
        if ((hold.phase as Phase) === Phase.Open) return own[method].apply(this, (args ?? arguments) as never)
      }
      // biome-ignore lint/complexity/noArguments: a copy only for the calls that need one.
      args ??= Array.prototype.slice.call(arguments) as unknown[]
      const phase = hold.phase as Phase // commitAtOnce may have moved it on
      if (phase === Phase.Failed) return swallow(this, method, args)
      if (phase === Phase.Waiting) start(this, hold)
      hold.queue ??= []
      hold.queue.push({ method, args })
      if (method !== 'write') return this
      hold.refusedWrite = true
      return false
    }
  // Defined, not assigned, so that a frozen or accessor-bearing prototype is not silently skipped.
  for (const method of ['writeHead', 'write', 'end'] as const) {
    Object.defineProperty(proto, method, { value: held(method), writable: true, configurable: true })
  }
  // The response's 'close' (sent or aborted) releases its session: seen here, instead of a
  // listener added to every response.
  const emit = (proto as unknown as { emit: AnyFunction }).emit
  Object.defineProperty(proto, 'emit', {
    value: function emitSeenByTether(this: HeldResponse, event: string | symbol): unknown {
      if (event === 'close') {
        const hold = holdOf(this)
        if (hold !== undefined) closed(hold)
      }
      // biome-ignore lint/complexity/noArguments: passes every argument on, without a rest array per event.
      return emit.apply(this, arguments as unknown as unknown[])
    },
    writable: true,
    configurable: true,
  })
  patched.set(proto, originals)
  return originals
}

/**
 * Holds a response's head until `commit` has settled, so the session is stored before the client
 * can see the answer and its Set-Cookie rides on that very head.
 *
 * Every way Express (and Node) sends a response — `redirect`, `json`, `send`, `sendFile`, streams,
 * `end`, a bare `writeHead` — goes through `writeHead`, `write` or `end`. The first of them starts
 * the commit; it and every later call are queued and replayed in order once the commit has
 * resolved, with the cookie added. When the commit fails, the queued calls are dropped and
 * `owner.fail` answers instead (a 503), and later writes of the app are swallowed.
 */
export function commitBeforeHead(req: IncomingMessage, res: ServerResponse, owner: HoldOwner): void {
  const hold = new Hold(patchPrototype(res), owner, req)
  const socket = req.socket as WithSlot | null
  if (socket !== null && socket[SLOT] === undefined) socket[SLOT] = hold
  else (req as WithHold)[HOLD] = hold
  lastRequest = req
  lastHold = hold
}

/** The owner of a request's hold, if `commitBeforeHead` was called for it. */
export function holdOwner(req: IncomingMessage): HoldOwner | undefined {
  return holdOfRequest(req)?.owner
}

/**
 * Commits right away when the owner can (nothing is queued then: the call goes straight through);
 * leaves the hold waiting when the commit needs the event loop. Returns the call's arguments
 * when they had to be copied to merge the cookie into a writeHead's headers.
 */
function commitAtOnce(
  res: HeldResponse,
  hold: Hold,
  method: Method,
  given: ArrayLike<unknown>,
): unknown[] | undefined {
  let setCookie: string | undefined | typeof WAIT
  try {
    setCookie = hold.owner.commitNow()
  } catch (error) {
    failed(hold, error)
    return undefined
  }
  if (setCookie === WAIT) return undefined
  hold.phase = Phase.Open
  if (setCookie === undefined) return undefined
  if (method !== 'writeHead') {
    addSetCookie(res, setCookie, [])
    return undefined
  }
  const args = Array.from(given)
  addSetCookie(res, setCookie, [{ method, args }])
  return args
}

/** The commit failed: the owner answers (a 503) and the app's own writes are dropped from now on. */
function failed(hold: Hold, error: unknown): void {
  hold.queue = undefined
  hold.phase = Phase.Open
  try {
    hold.owner.fail(error)
  } finally {
    hold.phase = Phase.Failed
  }
}

function start(res: HeldResponse, hold: Hold): void {
  hold.phase = Phase.Holding
  hold.owner.commit().then(
    (setCookie) => {
      hold.phase = Phase.Open
      const queue = hold.queue ?? []
      hold.queue = undefined
      if (setCookie !== undefined) addSetCookie(res, setCookie, queue)
      let lastWrite = true
      for (const { method, args } of queue) {
        let result: unknown
        try {
          result = hold.originals[method].apply(res, args)
        } catch (error) {
          // Thrown into a promise callback, it would be an unhandled rejection and leave the
          // response open; unheld, the app's handler would have seen it. The calls after it
          // would not have run either.
          hold.owner.replayFailed(error)
          return
        }
        if (method === 'write') lastWrite = result as boolean
      }
      // A stream piped into the response paused on our `false`; let it go on unless the socket
      // itself now asks it to wait (then Node emits 'drain' on its own).
      if (hold.refusedWrite && lastWrite && !res.writableEnded) res.emit('drain')
    },
    (error: unknown) => failed(hold, error),
  )
}

/** After an error response has been sent, the app's own late writes must not crash the process. */
function swallow(res: ServerResponse, method: Method, args: unknown[]): unknown {
  const callback = args.findLast((a): a is () => void => typeof a === 'function')
  if (method !== 'writeHead' && callback !== undefined) queueMicrotask(callback)
  return method === 'write' ? true : res
}

/**
 * Adds the session cookie without replacing any Set-Cookie of the app, wherever it was set.
 *
 * Headers given to writeHead() replace those set before, so ours joins the last Set-Cookie among
 * them: Node 20's writeHead() sets them in order, each replacing the one before, and were they
 * appended instead, ours would still be the last line. A value Node refuses (undefined) is left
 * for writeHead() to refuse, as it would without Tether.
 */
function addSetCookie(res: ServerResponse, setCookie: string, queue: Call[]): void {
  const head = queue.find((call) => call.method === 'writeHead')
  if (head !== undefined) {
    const index = typeof head.args[1] === 'object' && head.args[1] !== null ? 1 : 2
    const headers = head.args[index]
    if (Array.isArray(headers)) {
      const at = headers.findLastIndex((v, i) => i % 2 === 0 && isSetCookie(v))
      if (at >= 0) {
        if (headers[at + 1] !== undefined) {
          head.args[index] = headers.with(at + 1, [...toList(headers[at + 1]), setCookie])
        }
        return
      }
    } else if (typeof headers === 'object' && headers !== null) {
      const key = Object.keys(headers).findLast(isSetCookie)
      if (key !== undefined) {
        const theirs = (headers as Record<string, unknown>)[key]
        if (theirs !== undefined) {
          head.args[index] = { ...headers, [key]: [...toList(theirs), setCookie] }
        }
        return
      }
    }
  }
  const existing = res.getHeader('set-cookie')
  // The app's values as they are (numbers, null, nested arrays): Node writes them as it would have.
  res.setHeader(
    'Set-Cookie',
    existing === undefined ? setCookie : ([...toList(existing), setCookie] as string[]),
  )
}

function isSetCookie(name: unknown): boolean {
  return typeof name === 'string' && name.toLowerCase() === 'set-cookie'
}

function toList(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [value]
}
