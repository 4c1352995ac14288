// "Log out everywhere" across the processes of a cluster. With an in-process store each worker
// holds its own sessions (and copies of others'), so ending a user's sessions means asking every
// worker. The cluster installs a broadcast here; each worker's session managers list themselves so
// the cluster can reach them. Kept on globalThis so two copies of the core in one process meet.

/** A session manager as the cluster reaches it. */
export interface EndsUserSessions {
  /** Ends the user's sessions in this process only; resolves with their store ids. */
  endUserHere(userId: string): Promise<string[]>
}

interface Registry {
  readonly managers: Set<EndsUserSessions>
  /** Set by the cluster in a worker: ends the user's sessions in every worker, totals the count. */
  broadcast: ((userId: string) => Promise<number>) | undefined
}

const USER_SESSIONS = Symbol.for('tether.user-sessions')

function registry(): Registry {
  const g = globalThis as { [USER_SESSIONS]?: Registry }
  g[USER_SESSIONS] ??= { managers: new Set(), broadcast: undefined }
  return g[USER_SESSIONS]
}

export function listManager(manager: EndsUserSessions): void {
  registry().managers.add(manager)
}

export function forgetManager(manager: EndsUserSessions): void {
  registry().managers.delete(manager)
}

/** The cluster's broadcast, when this process is a worker of one. */
export function userSessionsBroadcast(): ((userId: string) => Promise<number>) | undefined {
  return registry().broadcast
}

/** Installed by the cluster in each worker. */
export function installUserSessionsBroadcast(
  broadcast: ((userId: string) => Promise<number>) | undefined,
): void {
  registry().broadcast = broadcast
}

/**
 * What a worker runs when asked by the cluster: every listed manager ends the user's sessions.
 * Resolves with their store ids (a session and its backup copy have the same one).
 */
export async function endUserSessionsHere(userId: string): Promise<string[]> {
  const ids = await Promise.all([...registry().managers].map((m) => m.endUserHere(userId)))
  return ids.flat()
}
