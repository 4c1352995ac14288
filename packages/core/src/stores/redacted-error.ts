/**
 * A Redis client's error without the arguments of the command that failed. ioredis attaches them
 * to every error it raises for a command (`command.args`): for a session write that is the
 * session's key (its store id), every value written (ciphertext, or the plain JSON with encryption
 * off) and the owner's user id. The error reaches the app as the `cause` of a TetherError, and a
 * logger that prints causes (console.error, pino's error serialiser) would write all of that to the
 * logs. The message, the class and the command's name stay, which is what a reader of the log needs.
 */
export function redactedError(error: unknown, depth = 0): unknown {
  if (typeof error !== 'object' || error === null || depth > 3) return error
  const e = error as { command?: unknown; cause?: unknown; lastNodeError?: unknown }
  const command = e.command
  if (typeof command === 'object' && command !== null && 'args' in command) {
    const name = (command as { name?: unknown }).name
    try {
      e.command = { name }
    } catch {
      // A read-only property: leave it (no client we know of makes it one).
    }
  }
  // ioredis's Cluster wraps the last node's error; other clients may chain one as the cause.
  if (e.lastNodeError !== undefined) redactedError(e.lastNodeError, depth + 1)
  if (e.cause !== undefined) redactedError(e.cause, depth + 1)
  return error
}
