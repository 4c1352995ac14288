import { HashRing } from '../hash-ring.js'

/** Where one route's sessions live: the worker its requests go to, and the one that keeps a copy. */
export interface Placement<W> {
  /** Serves the route: its owner while alive, else the ring's pick among the living (the router's fallback). */
  readonly holder: W
  /** Keeps the copies: where the router would send the route next if the holder died. */
  readonly target: W | undefined
}

/**
 * Places every route on `members` (the living workers by route) exactly as the router would send
 * its requests, now and after the holder's death. Because the backup is the router's next pick,
 * a failover finds the copies where the requests arrive, with no lookup.
 */
export function placeRoutes<W>(
  routes: Iterable<string>,
  members: ReadonlyMap<string, W>,
  virtualNodes: number,
): Map<string, Placement<W>> {
  const ring = new HashRing(members.keys(), { virtualNodes })
  const placements = new Map<string, Placement<W>>()
  for (const route of routes) {
    const holderRoute = members.has(route) ? route : ring.get(route)
    if (holderRoute === undefined) continue
    const targetRoute = ring.getExcluding(route, holderRoute)
    placements.set(route, {
      holder: members.get(holderRoute)!,
      target: targetRoute === undefined ? undefined : members.get(targetRoute),
    })
  }
  return placements
}
