import { endUserSessionsHere, installUserSessionsBroadcast } from '@tether/core/adapter'
import type { WorkerMessage } from './messages.js'
import { PendingReplies } from './pending-replies.js'
import type { DestroyedUserMessage, EndUserMessage } from './user-sessions-relay.js'

// A worker's part of "log out everywhere": SessionManager#destroyAll asks the primary, which asks
// every worker (see UserSessionsRelay); each ends the user's sessions in its own stores.

/** Longer than the primary's own wait, which answers first with what it has. */
const REPLY_TIMEOUT_MS = 10_000

/** Installs the broadcast for this worker's session managers; returns the message handler. */
export function serveUserSessions(
  send: (message: WorkerMessage) => void,
): (message: { tether: string }) => boolean {
  const replies = new PendingReplies<number>(
    REPLY_TIMEOUT_MS,
    `destroyAll(): the cluster's primary did not answer within ${REPLY_TIMEOUT_MS} ms`,
  )
  installUserSessionsBroadcast((user) =>
    replies.request((ref) => send({ tether: 'destroy-user', ref, user })),
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
      if (reply.error === undefined) replies.resolve(reply.ref, reply.count)
      else
        replies.reject(reply.ref, new Error(`destroyAll() ended ${reply.count} sessions, but ${reply.error}`))
      return true
    }
    return false
  }
}
