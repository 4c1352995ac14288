import { endUserSessionsHere, installUserSessionsBroadcast } from '@tether/core/adapter'
import type { WorkerMessage } from './messages.js'
import type { DestroyedUserMessage, EndUserMessage } from './user-sessions-relay.js'

// A worker's part of "log out everywhere": SessionManager#destroyAll asks the primary, which asks
// every worker (see UserSessionsRelay); each ends the user's sessions in its own stores.

/** Longer than the primary's own wait, which answers first with what it has. */
const REPLY_TIMEOUT_MS = 10_000

interface Pending {
  readonly resolve: (count: number) => void
  readonly reject: (error: Error) => void
  readonly timer: NodeJS.Timeout
}

/** Installs the broadcast for this worker's session managers; returns the message handler. */
export function serveUserSessions(
  send: (message: WorkerMessage) => void,
): (message: { tether: string }) => boolean {
  const pending = new Map<number, Pending>()
  let nextRef = 0
  installUserSessionsBroadcast(
    (user) =>
      new Promise<number>((resolve, reject) => {
        const ref = nextRef++
        const timer = setTimeout(() => {
          pending.delete(ref)
          reject(
            new Error(`destroyAll(): the cluster's primary did not answer within ${REPLY_TIMEOUT_MS} ms`),
          )
        }, REPLY_TIMEOUT_MS)
        timer.unref()
        pending.set(ref, { resolve, reject, timer })
        send({ tether: 'destroy-user', ref, user })
      }),
  )
  return (message) => {
    if (message.tether === 'end-user') {
      const { ref, user } = message as EndUserMessage
      endUserSessionsHere(user).then(
        (ids) => send({ tether: 'ended-user', ref, ids }),
        (error: Error) => send({ tether: 'ended-user', ref, ids: [], error: error.message }),
      )
      return true
    }
    if (message.tether === 'destroyed-user') {
      const reply = message as DestroyedUserMessage
      const waiting = pending.get(reply.ref)
      if (waiting !== undefined) {
        pending.delete(reply.ref)
        clearTimeout(waiting.timer)
        if (reply.error === undefined) waiting.resolve(reply.count)
        else waiting.reject(new Error(`destroyAll() ended ${reply.count} sessions, but ${reply.error}`))
      }
      return true
    }
    return false
  }
}
