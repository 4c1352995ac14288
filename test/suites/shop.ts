// The route table every conformance test runs against, on both adapters.
import { Metrics } from '@tether/core'
import type {
  AdapterDriver,
  AppSettings,
  DriverOptions,
  Reply,
  ReplyKind,
  RouteSpec,
  RunningApp,
} from '../support/adapter-drivers.js'
import { TEST_SECRET } from '../support/adapter-drivers.js'
import { Gates } from '../support/gate.js'
import { SwitchableStore } from '../support/switchable-store.js'

/** The answer each reply kind gives, so tests can check the body arrived intact. */
export function replyOf(kind: ReplyKind): Reply {
  switch (kind) {
    case 'json':
      return { kind, body: { ok: true } }
    case 'return':
      return { kind, body: { ok: true } }
    case 'text':
    case 'buffer':
      return { kind, body: 'ok' }
    case 'redirect':
      return { kind, location: '/next' }
    case 'end':
      return { kind }
    case 'stream':
    case 'head':
      return { kind, chunks: ['o', 'k'] }
    case 'error':
      return { kind, status: 409 }
  }
}

/** What a response of each kind looks like when it went through. */
export const EXPECTED: Record<ReplyKind, { status: number; body?: string }> = {
  json: { status: 200, body: '{"ok":true}' },
  return: { status: 200, body: '{"ok":true}' },
  text: { status: 200, body: 'ok' },
  buffer: { status: 200, body: 'ok' },
  redirect: { status: 302 },
  end: { status: 204, body: '' },
  stream: { status: 200, body: 'ok' },
  head: { status: 201, body: 'ok' },
  error: { status: 409 },
}

/** `?value=` as JSON when it parses (numbers, booleans), else the string itself; absent means true. */
function parseValue(text: string | undefined): unknown {
  if (text === undefined) return true
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve))

function shopRoutes(gates: Gates): RouteSpec[] {
  return [
    {
      method: 'GET',
      path: '/read',
      handle: ({ session }) => ({
        kind: 'json',
        body: {
          isNew: session.isNew,
          values: Object.fromEntries(session.keys().map((k) => [k, session.get(k)])),
        },
      }),
    },
    {
      method: 'GET',
      path: '/set',
      handle: ({ session, query }) => {
        session.set(query.key ?? 'value', parseValue(query.value))
        return replyOf((query.kind as ReplyKind | undefined) ?? 'json')
      },
    },
    {
      method: 'GET',
      path: '/reply',
      handle: ({ query }) => replyOf(query.kind as ReplyKind),
    },
    {
      method: 'GET',
      path: '/incr',
      handle: async ({ session }) => {
        // Yield first so that parallel requests really overlap inside the handler.
        await tick()
        const count = ((session.get('count') as number | undefined) ?? 0) + 1
        session.set('count', count)
        return { kind: 'json', body: { count } }
      },
    },
    {
      method: 'GET',
      path: '/set-later',
      handle: async ({ session, query }) => {
        await new Promise((resolve) => setTimeout(resolve, Number(query.ms ?? 5)))
        session.set(query.key!, true)
        return { kind: 'json', body: { ok: true } }
      },
    },
    {
      method: 'GET',
      path: '/gated-set',
      handle: async ({ session, query }) => {
        await gates.wait(query.gate!)
        session.set(query.key!, true)
        return { kind: 'json', body: { ok: true } }
      },
    },
    {
      method: 'GET',
      path: '/gated-incr',
      handle: async ({ session, query }) => {
        const before = (session.get('count') as number | undefined) ?? 0
        await gates.wait(query.gate!)
        // Read again after the wait: the live session carries what other requests did meanwhile.
        const count = ((session.get('count') as number | undefined) ?? before) + 1
        session.set('count', count)
        return { kind: 'json', body: { count } }
      },
    },
    {
      method: 'POST',
      path: '/login',
      handle: async ({ session, query }) => {
        await session.regenerate()
        session.set('user', { id: 42, role: query.role ?? 'user' })
        return { kind: 'redirect', location: '/cart' }
      },
    },
    {
      method: 'POST',
      path: '/logout',
      handle: async ({ session }) => {
        await session.destroy()
        return { kind: 'end' }
      },
    },
    {
      method: 'GET',
      path: '/cart',
      guard: {},
      handle: ({ session }) => ({ kind: 'json', body: session.get('cart') ?? [] }),
    },
    {
      method: 'GET',
      path: '/admin',
      guard: { predicate: (s) => (s.get('user') as { role?: string } | undefined)?.role === 'admin' },
      handle: () => ({ kind: 'json', body: { admin: true } }),
    },
    {
      method: 'GET',
      path: '/admin-async',
      guard: {
        predicate: async (s) => {
          await tick()
          return (s.get('user') as { role?: string } | undefined)?.role === 'admin'
        },
      },
      handle: () => ({ kind: 'json', body: { admin: true } }),
    },
    {
      method: 'GET',
      path: '/custom-guard',
      guard: {
        predicate: () => false,
        options: {
          unauthenticated: { status: 419, body: 'log in first' },
          forbidden: { status: 451, body: { reason: 'nope' } },
        },
      },
      handle: () => ({ kind: 'json', body: { never: true } }),
    },
  ]
}

export interface Shop {
  readonly app: RunningApp
  readonly store: SwitchableStore
  readonly gates: Gates
  readonly metrics: Metrics
  close(): Promise<void>
}

/** Starts the shop on `driver` with a SwitchableStore (unless one is given) and fresh metrics. */
export async function startShop(
  driver: AdapterDriver,
  options: Partial<DriverOptions> = {},
  settings: AppSettings = {},
): Promise<Shop> {
  const store = (options.store as SwitchableStore | undefined) ?? new SwitchableStore()
  const metrics = new Metrics()
  const gates = new Gates()
  const app = await driver.start(
    { secret: TEST_SECRET, ...options, store, metrics },
    shopRoutes(gates),
    settings,
  )
  return {
    app,
    store,
    gates,
    metrics,
    async close() {
      await app.close()
      if (options.store === undefined) await store.close()
    },
  }
}
