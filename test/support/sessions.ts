// Creates sessions on a cluster fixture and says which worker owns them.
import { cookieOf, request } from './http-client.js'

/** A session created on a cluster: its Cookie header and the route of its owner. */
export interface ClusterSession {
  cookie: string
  /** The cookie value alone (`<token>.<route>.<mac>`). */
  value: string
  route: string
}

/** Logs in as `user` from client address `clientIp` (sent as X-Forwarded-For) and returns the session. */
export async function createSession(port: number, user: string, clientIp: string): Promise<ClusterSession> {
  const response = await request(port, `/login?user=${encodeURIComponent(user)}`, {
    headers: { 'x-forwarded-for': clientIp },
  })
  const cookie = cookieOf(response)
  return { cookie, value: cookie.slice(cookie.indexOf('=') + 1), route: String(response.body.route) }
}

/** Creates sessions from different client addresses until there is one owned by each of `routes`. */
export async function sessionsOnEveryWorker(
  port: number,
  routes: readonly string[],
): Promise<Map<string, ClusterSession>> {
  const found = new Map<string, ClusterSession>()
  for (let i = 1; i < 200 && found.size < routes.length; i++) {
    const session = await createSession(port, `user${i}`, `198.51.100.${i}`)
    if (!found.has(session.route)) found.set(session.route, session)
  }
  if (found.size < routes.length) throw new Error(`sessions landed only on ${[...found.keys()]}`)
  return found
}
