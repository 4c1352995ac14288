// Long responses (Server-Sent Events, long polls, streams) keep a draining worker alive until
// drainTimeout: the drain loop only closes idle connections. The app ends them itself when told.

const draining = new AbortController()

/**
 * An AbortSignal that aborts when this worker starts draining (reload(), close(), SIGTERM): end
 * long responses then, and their clients reconnect through the router to a worker that stays.
 * Outside a worker of startCluster() it never aborts.
 *
 * @example
 * const stop = () => res.end()
 * drainSignal().addEventListener('abort', stop, { once: true })
 */
export function drainSignal(): AbortSignal {
  return draining.signal
}

/** Called by the worker when the primary asks it to drain. */
export function startDraining(): void {
  draining.abort(new Error('this worker is draining'))
}
