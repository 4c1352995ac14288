import type { SessionWrite, StoredSession } from '@tether/core'
import type { Request, Response } from 'express'
import fc from 'fast-check'

/*
 * Express handlers that set Set-Cookie headers every way an app can (res.setHeader, res.append,
 * res.cookie, headers given to writeHead as an object or a flat array, in any case of the name),
 * with ordinary, odd and invalid values, then send the response one of the ways Express does. A
 * script says what the handler does; it travels in a request header so that the same script runs
 * with and without Tether.
 */

/** A header value as JSON carries it; `{ undefined: true }` stands for undefined. */
export type WireValue = string | number | boolean | null | { undefined: true } | WireValue[]

type Step =
  | { how: 'setHeader' | 'append'; name: string; value: WireValue }
  | { how: 'cookie'; name: string; value: string; expires: boolean }

type Send =
  | {
      how: 'writeHead'
      status: number
      message: string | undefined
      form: 'object' | 'array'
      headers: [string, WireValue][]
    }
  | { how: 'end' | 'json' | 'write' }

export interface Script {
  /** Whether the handler changes the session, so that Tether sends its cookie. */
  session: boolean
  steps: Step[]
  send: Send
}

/** The value a script's header stands for. */
export function wireValue(v: WireValue): unknown {
  if (Array.isArray(v)) return v.map(wireValue)
  if (typeof v === 'object' && v !== null) return undefined
  return v
}

/** Runs a script; what it throws goes to Express's error handler (a 500), as an app's would. */
export function runScript(req: Request, res: Response): void {
  const script = JSON.parse(Buffer.from(req.get('x-script')!, 'base64').toString('utf8')) as Script
  // Without Tether there is no session to change.
  if (script.session) (req as { session?: Request['session'] }).session?.set('n', 1)
  for (const step of script.steps) {
    if (step.how === 'cookie') {
      res.cookie(step.name, step.value, step.expires ? { expires: new Date(Date.UTC(2030, 0, 1)) } : {})
    } else if (step.how === 'setHeader') res.setHeader(step.name, wireValue(step.value) as string)
    else res.append(step.name, wireValue(step.value) as string)
  }
  const send = script.send
  if (send.how === 'writeHead') {
    const headers =
      send.form === 'object'
        ? Object.fromEntries(send.headers.map(([n, v]) => [n, wireValue(v)]))
        : send.headers.flatMap(([n, v]) => [n, wireValue(v)])
    if (send.message === undefined) res.writeHead(send.status, headers as never)
    else res.writeHead(send.status, send.message, headers as never)
    res.end('ok')
  } else if (send.how === 'json') res.json({ ok: true })
  else if (send.how === 'write') {
    res.write('o')
    res.end('k')
  } else res.end('ok')
}

/** Set-Cookie in the cases apps write it. */
export const setCookieName = fc.constantFrom('Set-Cookie', 'set-cookie', 'SET-COOKIE', 'Set-cookie')
const latin1 = fc.string({
  unit: fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) },
    fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)),
    fc.constant('\t'),
  ),
  maxLength: 40,
})
const cookieLine = fc
  .tuple(fc.stringMatching(/^[a-z]{1,6}$/), fc.stringMatching(/^[A-Za-z0-9%]{0,12}$/), fc.boolean())
  .map(([n, v, expires]) => `${n}=${v}; Path=/${expires ? '; Expires=Wed, 21 Oct 2015 07:28:00 GMT' : ''}`)
/** What Node refuses in a header value: line breaks, NUL, characters past U+00FF, nothing at all. */
const invalid: fc.Arbitrary<WireValue> = fc.oneof(
  latin1.map((s) => `${s}\r\nX-Injected: 1`),
  fc.constantFrom('a\0b', 'snow=☃', 'a\nb', null, { undefined: true as const }),
)
const scalar: fc.Arbitrary<WireValue> = fc.oneof(
  { weight: 4, arbitrary: cookieLine },
  { weight: 2, arbitrary: latin1 },
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.constantFrom('', ' ', ',', ';', 'a=1, b=2', true),
)
export const appValue: fc.Arbitrary<WireValue> = fc.oneof(
  { weight: 4, arbitrary: scalar },
  { weight: 3, arbitrary: fc.array(scalar, { maxLength: 4 }) },
  { weight: 1, arbitrary: fc.array(fc.array(scalar, { maxLength: 2 }), { minLength: 1, maxLength: 2 }) },
  { weight: 1, arbitrary: invalid },
)

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    how: fc.constantFrom('setHeader' as const, 'append' as const),
    name: setCookieName,
    value: appValue,
  }),
  fc.record({
    how: fc.constant('cookie' as const),
    name: fc.stringMatching(/^[a-z]{1,6}$/),
    value: fc.stringMatching(/^[ -~]{0,12}$/),
    expires: fc.boolean(),
  }),
)
const otherHeader = fc.tuple(fc.constantFrom('Content-Type', 'X-App'), fc.constant<WireValue>('text/plain'))
const send: fc.Arbitrary<Send> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      how: fc.constant('writeHead' as const),
      status: fc.constantFrom(200, 201, 299),
      message: fc.constantFrom(undefined, 'Fine'),
      form: fc.constantFrom('object' as const, 'array' as const),
      headers: fc.array(fc.oneof(fc.tuple(setCookieName, appValue), otherHeader), { maxLength: 3 }),
    }),
  },
  fc.record({ how: fc.constantFrom('end' as const, 'json' as const, 'write' as const) }),
)

export const script: fc.Arbitrary<Script> = fc.record({
  session: fc.boolean(),
  steps: fc.array(step, { maxLength: 4 }),
  send,
})

/**
 * A store that keeps nothing, so that a million sessions cost no memory: each request's session
 * is new anyway. The synchronous forms make Tether commit before the head without waiting.
 */
export class ForgetfulStore {
  readonly inProcess = true
  getNow(): StoredSession | undefined {
    return undefined
  }
  writeNow(_id: string, _change: SessionWrite): boolean {
    return true
  }
  touchNow(): boolean {
    return true
  }
  async get(): Promise<StoredSession | undefined> {
    return undefined
  }
  async write(): Promise<boolean> {
    return true
  }
  async touch(): Promise<boolean> {
    return true
  }
  async destroy(): Promise<void> {}
  async close(): Promise<void> {}
}

/** The same without synchronous forms, and a turn of the event loop per call: Tether queues the response. */
export class SlowForgetfulStore {
  readonly inProcess = false
  async get(): Promise<StoredSession | undefined> {
    await new Promise(setImmediate)
    return undefined
  }
  async write(): Promise<boolean> {
    await new Promise(setImmediate)
    return true
  }
  async touch(): Promise<boolean> {
    return true
  }
  async destroy(): Promise<void> {}
  async close(): Promise<void> {}
}
