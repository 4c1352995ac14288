import { Readable } from 'node:stream'
import fc from 'fast-check'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { appValue, setCookieName, type WireValue, wireValue } from './set-cookie-app.js'

/*
 * Fastify handlers that set Set-Cookie every way an app can (reply.header, reply.headers, the raw
 * response's setHeader, in any case of the name, and removing it again), with ordinary, odd and
 * invalid values, then answer one of the ways Fastify does (a returned object, reply.send of a
 * string, a buffer or a stream, another status, a redirect, a thrown error). A script says what
 * the handler does; it travels in a request header so that the same script runs with and without
 * Tether.
 *
 * No 204: Fastify itself never answers a 204 whose header Node refuses (the request hangs,
 * with or without Tether), which leaves nothing to compare.
 */

type Step =
  | { how: 'header' | 'rawSetHeader'; name: string; value: WireValue }
  | { how: 'headers'; name: string; value: WireValue }
  | { how: 'removeHeader'; name: string }

type Send =
  | { how: 'return' | 'string' | 'buffer' | 'stream' | 'throw' }
  | { how: 'code'; status: number }
  | { how: 'redirect' }

export interface FastifyScript {
  /** Whether the handler changes the session, so that Tether sends its cookie. */
  session: boolean
  steps: Step[]
  send: Send
}

/** Runs a script; what it throws goes to Fastify's error handler (a 500), as an app's would. */
export async function runFastifyScript(request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  const header = request.headers['x-script'] as string
  const script = JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as FastifyScript
  // Without Tether there is no session to change.
  if (script.session)
    (request as unknown as { session?: { set(k: string, v: unknown): void } }).session?.set('n', 1)
  for (const step of script.steps) {
    if (step.how === 'header') reply.header(step.name, wireValue(step.value))
    else if (step.how === 'headers') reply.headers({ [step.name]: wireValue(step.value) as string })
    else if (step.how === 'rawSetHeader') reply.raw.setHeader(step.name, wireValue(step.value) as string)
    else reply.removeHeader(step.name)
  }
  // Set last, it shows whether the answer kept the reply's headers: when Node refuses one of them,
  // Fastify answers without those it had not yet handed to the raw response.
  reply.header('x-app', '1')
  const send = script.send
  switch (send.how) {
    case 'return':
      return { ok: true }
    case 'string':
      return reply.type('text/plain').send('ok')
    case 'buffer':
      return reply.send(Buffer.from('ok'))
    case 'stream':
      return reply.type('text/plain').send(Readable.from(['o', 'k']))
    case 'code':
      return reply.code(send.status).send({ ok: true })
    case 'redirect':
      return reply.redirect('/elsewhere')
    case 'throw':
      throw new Error('the handler failed')
  }
}

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      how: fc.constantFrom('header' as const, 'headers' as const, 'rawSetHeader' as const),
      name: setCookieName,
      value: appValue,
    }),
  },
  fc.record({ how: fc.constant('removeHeader' as const), name: setCookieName }),
)
const send: fc.Arbitrary<Send> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      how: fc.constantFrom(
        'return' as const,
        'string' as const,
        'buffer' as const,
        'stream' as const,
        'throw' as const,
      ),
    }),
  },
  fc.record({ how: fc.constant('code' as const), status: fc.constantFrom(201, 404, 503) }),
  fc.record({ how: fc.constant('redirect' as const) }),
)

export const fastifyScript: fc.Arbitrary<FastifyScript> = fc.record({
  session: fc.boolean(),
  steps: fc.array(step, { maxLength: 4 }),
  send,
})
