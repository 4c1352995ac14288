import type { ServerResponse } from 'node:http'

type Method = 'writeHead' | 'write' | 'end'
type Call = { method: Method; args: unknown[] }
type AnyFunction = (...args: unknown[]) => unknown

/**
 * Holds a response's head until `commit` has settled, so the session is stored before the client
 * can see the answer and its Set-Cookie rides on that very head.
 *
 * Every way Express (and Node) sends a response — `redirect`, `json`, `send`, `sendFile`, streams,
 * `end`, a bare `writeHead` — goes through `writeHead`, `write` or `end`. The first of them starts
 * the commit; it and every later call are queued and replayed in order once the commit has
 * resolved, with the cookie added. When the commit fails, the queued calls are dropped and
 * `onError` answers instead (a 503), and later writes of the app are swallowed.
 */
export function commitBeforeHead(
  res: ServerResponse,
  commit: () => Promise<string | undefined>,
  onError: (error: unknown) => void,
): void {
  const original = { writeHead: res.writeHead, write: res.write, end: res.end }
  const queue: Call[] = []
  let state: 'waiting' | 'holding' | 'failed' = 'waiting'
  let refusedWrite = false

  const restore = () => {
    res.writeHead = original.writeHead
    res.write = original.write
    res.end = original.end
  }

  const start = () => {
    state = 'holding'
    commit().then(
      (setCookie) => {
        restore()
        if (setCookie !== undefined) addSetCookie(res, setCookie, queue)
        let lastWrite = true
        for (const { method, args } of queue) {
          const result = (original[method] as AnyFunction).apply(res, args)
          if (method === 'write') lastWrite = result as boolean
        }
        // A stream piped into the response paused on our `false`; let it go on unless the socket
        // itself now asks it to wait (then Node emits 'drain' on its own).
        if (refusedWrite && lastWrite && !res.writableEnded) res.emit('drain')
      },
      (error: unknown) => {
        state = 'failed'
        restore()
        onError(error)
        swallowLaterWrites(res)
      },
    )
  }

  const hold = (method: Method) =>
    function held(this: ServerResponse, ...args: unknown[]): unknown {
      if (state === 'waiting') start()
      queue.push({ method, args })
      if (method !== 'write') return res
      refusedWrite = true
      return false
    }
  res.writeHead = hold('writeHead') as ServerResponse['writeHead']
  res.write = hold('write') as ServerResponse['write']
  res.end = hold('end') as ServerResponse['end']
}

/** After an error response has been sent, the app's own late writes must not crash the process. */
function swallowLaterWrites(res: ServerResponse): void {
  const callbackOf = (args: unknown[]) => args.findLast((a): a is () => void => typeof a === 'function')
  res.writeHead = (() => res) as unknown as ServerResponse['writeHead']
  res.write = ((...args: unknown[]) => {
    queueMicrotask(() => callbackOf(args)?.())
    return true
  }) as ServerResponse['write']
  res.end = ((...args: unknown[]) => {
    queueMicrotask(() => callbackOf(args)?.())
    return res
  }) as ServerResponse['end']
}

/** Adds the session cookie without replacing any Set-Cookie of the app, wherever it was set. */
function addSetCookie(res: ServerResponse, setCookie: string, queue: Call[]): void {
  const head = queue.find((call) => call.method === 'writeHead')
  if (head !== undefined) {
    const index = typeof head.args[1] === 'object' && head.args[1] !== null ? 1 : 2
    const headers = head.args[index]
    // Headers given to writeHead() replace those set before; merge ours into them when they
    // carry a Set-Cookie of their own.
    if (Array.isArray(headers) && headers.some((v, i) => i % 2 === 0 && isSetCookie(v))) {
      head.args[index] = [...headers, 'Set-Cookie', setCookie]
      return
    }
    if (typeof headers === 'object' && headers !== null && !Array.isArray(headers)) {
      const key = Object.keys(headers).find(isSetCookie)
      if (key !== undefined) {
        const theirs = (headers as Record<string, unknown>)[key]
        head.args[index] = { ...headers, [key]: [...toList(theirs), setCookie] }
        return
      }
    }
  }
  const existing = res.getHeader('set-cookie')
  res.setHeader('Set-Cookie', existing === undefined ? setCookie : [...toList(existing), setCookie])
}

function isSetCookie(name: unknown): boolean {
  return typeof name === 'string' && name.toLowerCase() === 'set-cookie'
}

function toList(value: unknown): string[] {
  if (value === undefined || value === null) return []
  return Array.isArray(value) ? value.map(String) : [String(value)]
}
