// Type test, checked by `tsc -p test/tsconfig.json`: request.session and fastify.tether are typed
// through the @tether/fastify augmentation and SessionData; each @ts-expect-error must stay an error.
import type { Metrics } from '@tether/core'
import tether, { tether as namedTether, requireSession, type Session } from '@tether/fastify'
import Fastify from 'fastify'

declare module '@tether/core' {
  interface SessionData {
    fastifyTypingsUser: { id: number; role: 'admin' | 'user' }
    fastifyTypingsCart: string[]
  }
}

// The same augmentation on the adapter's own SessionData (as its README shows) types the keys too.
declare module '@tether/fastify' {
  interface SessionData {
    fastifyAdapterKey: { since: number }
  }
}

export async function build() {
  const app = Fastify()
  await app.register(tether, { secret: 'x'.repeat(32), cookie: { sameSite: 'strict' } })
  // The named export is the same plugin.
  const same: typeof tether = namedTether
  const metrics: Metrics = app.tether.metrics

  app.get('/cart', { preHandler: requireSession() }, async (request) => {
    const session: Session = request.session
    const cart: string[] | undefined = session.get('fastifyTypingsCart')
    request.session.set('fastifyTypingsCart', [...(cart ?? []), 'apple'])
    // @ts-expect-error a declared key only takes its declared type
    request.session.set('fastifyTypingsCart', 'apple')
    // @ts-expect-error the value of a declared key is typed, not any
    const wrong: string | undefined = request.session.get('fastifyTypingsUser')
    // @ts-expect-error the session has no such method
    request.session.reload()
    return { cart, wrong }
  })
  app.get(
    '/admin',
    {
      preHandler: requireSession(
        (s, request) => s.get('fastifyTypingsUser')?.role === 'admin' && !!request.url,
      ),
    },
    async () => 'ok',
  )
  // @ts-expect-error a predicate returns a boolean
  requireSession((s) => s.get('fastifyTypingsUser'))
  // @ts-expect-error the secret is required
  await app.register(tether, {})
  // @ts-expect-error retryAfter is a number of seconds
  await app.register(tether, { secret: 'x'.repeat(32), retryAfter: 'soon' })
  return { app, same, metrics }
}

/** A key declared on @tether/fastify's SessionData is typed like one declared on the core's. */
export function adapterAugmentation(session: Session): number | undefined {
  // @ts-expect-error the value of a key declared through the adapter is typed, not unknown
  const wrong: string | undefined = session.get('fastifyAdapterKey')?.since
  void wrong
  return session.get('fastifyAdapterKey')?.since
}
