import type { ParsedHead } from '../head/head-reader.js'

/** The routing strategies, tried in the order given. */
export type StrategyName = 'cookie' | 'url-param' | 'client-ip' | 'proxy-protocol'

/** What a strategy sees of a connection. */
export interface RoutingInput {
  /** The first request's head; undefined in HTTPS mode, where the primary reads nothing. */
  readonly head: ParsedHead | undefined
  /** The TCP peer's address, IPv4-mapped IPv6 addresses unwrapped. */
  readonly peerAddress: string
  /** The client address from a trusted PROXY protocol header, if one was sent. */
  readonly proxyAddress: string | undefined
}

/**
 * A strategy's answer: the route of the worker that owns the session, or a key to place on the
 * consistent-hash ring. Undefined means "no opinion", and the next strategy is asked.
 */
export type Decision = { readonly route: string } | { readonly key: string }

/** A strategy, built once from the options. */
export type Strategy = (input: RoutingInput) => Decision | undefined
