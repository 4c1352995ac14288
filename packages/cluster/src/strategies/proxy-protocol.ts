import type { Decision, RoutingInput, Strategy } from './strategy.js'

/**
 * Consistent hashing of the client address that a trusted load balancer sent in a PROXY protocol
 * header. Headers from untrusted peers are never read as PROXY headers (they get a 400).
 */
export function proxyProtocolStrategy(): Strategy {
  return function proxyProtocol(input: RoutingInput): Decision | undefined {
    return input.proxyAddress === undefined ? undefined : { key: input.proxyAddress }
  }
}
