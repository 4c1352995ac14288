// Builds the same app on Express and on Fastify from one route table, so the conformance suite can
// run every behaviour against both adapters over real HTTP.
import type { AddressInfo, Socket } from 'node:net'
import { Readable } from 'node:stream'
import type { Metrics, Session, TetherOptions } from '@tether/core'
import { CONNECTION_ROUTE } from '@tether/core/adapter'
import {
  type RequireSessionOptions,
  requireSession as requireExpressSession,
  stickySession,
} from '@tether/express'
import tether, { requireSession as requireFastifySession } from '@tether/fastify'
import express, { type NextFunction, type Request, type Response } from 'express'
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import supertest from 'supertest'

/** How a route answers; each driver maps a kind to its framework's idiomatic call. */
export type Reply =
  /** express `res.status().json()`, fastify `reply.code().send(object)` */
  | { kind: 'json'; body: unknown; status?: number }
  /** express `res.send(object)`, fastify: the async handler returns the value */
  | { kind: 'return'; body: unknown }
  /** express `res.type('text').send(string)`, fastify `reply.type('text/plain').send(string)` */
  | { kind: 'text'; body: string }
  /** a Buffer body */
  | { kind: 'buffer'; body: string }
  /** express `res.redirect(302, location)`, fastify `reply.redirect(location, 302)` */
  | { kind: 'redirect'; location: string }
  /** express `res.status(204).end()`, fastify `reply.code(204).send()` */
  | { kind: 'end' }
  /** a Readable piped out as text/plain */
  | { kind: 'stream'; chunks: string[] }
  /** express `res.writeHead(201, headers); res.write(a); res.end(b)`, fastify `reply.code(201).headers().send()` */
  | { kind: 'head'; chunks: string[] }
  /** an error with a status: express `next(err)`, fastify `throw err` (the framework's error handler) */
  | { kind: 'error'; status: number }

export const REPLY_KINDS = [
  'json',
  'return',
  'text',
  'buffer',
  'redirect',
  'end',
  'stream',
  'head',
  'error',
] as const
export type ReplyKind = (typeof REPLY_KINDS)[number]

export interface RouteContext {
  session: Session
  query: Record<string, string | undefined>
  /** The adapter's "log out everywhere": express `sessions.destroyAll`, fastify `fastify.tether.destroyAll`. */
  destroyAll(userId: string): Promise<number>
}

export interface RouteSpec {
  method: 'GET' | 'POST'
  path: string
  /** Put requireSession(predicate, options) in front of the handler. */
  guard?: { predicate?: (session: Session) => boolean | Promise<boolean>; options?: RequireSessionOptions }
  handle(ctx: RouteContext): Reply | Promise<Reply>
}

export interface AppSettings {
  /** express `trust proxy` / fastify `trustProxy`. */
  trustProxy?: boolean
  /** Marks every accepted socket as @tether/cluster does for connections handed over for `route`. */
  connectionRoute?: string
}

export type DriverOptions = TetherOptions & { retryAfter?: number }

export interface RunningApp {
  readonly url: string
  readonly metrics: Metrics
  get(path: string): supertest.Test
  post(path: string): supertest.Test
  /** Open client connections, as the server counts them. */
  connections(): Promise<number>
  close(): Promise<void>
}

export interface AdapterDriver {
  readonly name: 'express' | 'fastify'
  start(options: DriverOptions, routes: RouteSpec[], settings?: AppSettings): Promise<RunningApp>
  /** Mounts the adapter with `options` the way a user does (app.use / register); rejects on bad ones. */
  mount(options: unknown): Promise<void>
}

function client(url: string) {
  return {
    get: (path: string) => supertest(url).get(path),
    post: (path: string) => supertest(url).post(path),
  }
}

function httpError(status: number): Error {
  return Object.assign(new Error(`failure ${status}`), { status, statusCode: status, expose: true })
}

export const expressDriver: AdapterDriver = {
  name: 'express',
  async start(options, routes, settings = {}) {
    const app = express()
    app.set('trust proxy', settings.trustProxy ?? false)
    app.set('env', 'test') // the default error handler stays quiet
    const sessions = stickySession(options)
    app.use(sessions)
    for (const route of routes) {
      const handlers: express.RequestHandler[] = []
      if (route.guard !== undefined)
        handlers.push(requireExpressSession(route.guard.predicate, route.guard.options))
      handlers.push(async (req: Request, res: Response, next: NextFunction) => {
        const reply = await route.handle({
          session: req.session,
          query: req.query as Record<string, string>,
          destroyAll: (userId) => sessions.destroyAll(userId),
        })
        sendExpress(reply, res, next)
      })
      if (route.method === 'GET') app.get(route.path, ...handlers)
      else app.post(route.path, ...handlers)
    }
    const server = app.listen(0, '127.0.0.1')
    await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject))
    if (settings.connectionRoute !== undefined) markConnections(server, settings.connectionRoute)
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    return {
      url,
      metrics: sessions.metrics,
      ...client(url),
      connections: () => connectionsOf(server),
      async close() {
        server.closeAllConnections()
        await new Promise<void>((resolve) => server.close(() => resolve()))
        await sessions.close()
      },
    }
  },
  async mount(options) {
    express().use(stickySession(options as DriverOptions))
  },
}

function sendExpress(reply: Reply, res: Response, next: NextFunction): void {
  switch (reply.kind) {
    case 'json':
      res.status(reply.status ?? 200).json(reply.body)
      return
    case 'return':
      res.send(reply.body)
      return
    case 'text':
      res.type('text').send(reply.body)
      return
    case 'buffer':
      res.type('application/octet-stream').send(Buffer.from(reply.body))
      return
    case 'redirect':
      res.redirect(302, reply.location)
      return
    case 'end':
      res.status(204).end()
      return
    case 'stream':
      res.type('text')
      Readable.from(reply.chunks).pipe(res)
      return
    case 'head':
      res.writeHead(201, { 'Content-Type': 'text/plain' })
      for (const chunk of reply.chunks.slice(0, -1)) res.write(chunk)
      res.end(reply.chunks.at(-1))
      return
    case 'error':
      next(httpError(reply.status))
      return
  }
}

export const fastifyDriver: AdapterDriver = {
  name: 'fastify',
  async start(options, routes, settings = {}) {
    const app = Fastify({ trustProxy: settings.trustProxy ?? false })
    await app.register(tether, options)
    for (const route of routes) {
      app.route({
        method: route.method,
        url: route.path,
        ...(route.guard !== undefined && {
          preHandler: requireFastifySession(route.guard.predicate, route.guard.options),
        }),
        handler: async (request: FastifyRequest, reply: FastifyReply) => {
          const answer = await route.handle({
            // Through unknown: bench files of this program load @fastify/session's types, whose
            // declaration of request.session would win (test/fastify/typings.ts checks ours).
            session: (request as unknown as { session: Session }).session,
            query: request.query as Record<string, string>,
            destroyAll: (userId) => app.tether.destroyAll(userId),
          })
          return sendFastify(answer, reply)
        },
      })
    }
    if (settings.connectionRoute !== undefined) markConnections(app.server, settings.connectionRoute)
    await app.listen({ port: 0, host: '127.0.0.1' })
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
    return {
      url,
      metrics: app.tether.metrics,
      ...client(url),
      connections: () => connectionsOf(app.server),
      async close() {
        app.server.closeAllConnections()
        await app.close()
      },
    }
  },
  async mount(options) {
    const app = Fastify()
    try {
      await app.register(tether, options as DriverOptions)
    } finally {
      await app.close().catch(() => undefined)
    }
  },
}

async function sendFastify(reply: Reply, out: FastifyReply): Promise<unknown> {
  switch (reply.kind) {
    case 'json':
      return out.code(reply.status ?? 200).send(reply.body)
    case 'return':
      return reply.body
    case 'text':
      return out.type('text/plain; charset=utf-8').send(reply.body)
    case 'buffer':
      return out.type('application/octet-stream').send(Buffer.from(reply.body))
    case 'redirect':
      return out.redirect(reply.location, 302)
    case 'end':
      return out.code(204).send()
    case 'stream':
      return out.type('text/plain; charset=utf-8').send(Readable.from(reply.chunks))
    case 'head':
      return out.code(201).headers({ 'content-type': 'text/plain' }).send(reply.chunks.join(''))
    case 'error':
      throw httpError(reply.status)
  }
}

function connectionsOf(server: import('node:http').Server): Promise<number> {
  return new Promise((resolve, reject) =>
    server.getConnections((error, n) => (error ? reject(error) : resolve(n))),
  )
}

function markConnections(server: import('node:http').Server, route: string): void {
  server.on('connection', (socket: Socket) => {
    ;(socket as Socket & { [CONNECTION_ROUTE]?: string })[CONNECTION_ROUTE] = route
  })
}

export const DRIVERS: readonly AdapterDriver[] = [expressDriver, fastifyDriver]

/** A secret long enough for the keyring (32+ characters); tests only. */
export const TEST_SECRET = 'test-secret-0123456789-abcdefghijklmnop'
export const OTHER_SECRET = 'other-secret-0123456789-abcdefghijklmno'
