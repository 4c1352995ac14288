import { createRequire } from 'node:module'

/*
 * An independent reader of Set-Cookie headers: set-cookie-parser (RFC 6265bis), which fastify's
 * light-my-request uses to read the cookies of injected responses. It is already installed as a
 * dependency of a dependency, so it is reached through them instead of being added: pnpm lets a
 * package require only what it declares.
 */

/** A cookie as set-cookie-parser reads it (attribute names it does not know come as they are). */
export interface ParsedCookie {
  name: string
  value: string
  path?: string
  domain?: string
  maxAge?: number
  expires?: Date
  secure?: boolean
  httpOnly?: boolean
  sameSite?: string
  partitioned?: boolean
  [attribute: string]: unknown
}

interface SetCookieParser {
  parse(input: string | string[], options: { decodeValues: boolean; silent: boolean }): ParsedCookie[]
}

const fromHere = createRequire(import.meta.url)
const fromFastify = createRequire(fromHere.resolve('fastify'))
const parser = createRequire(fromFastify.resolve('light-my-request'))('set-cookie-parser') as SetCookieParser

/**
 * The cookies of Set-Cookie header lines, one each, values as sent (not URI-decoded). Always an
 * array: given one string the parser would split it at commas that look like a next cookie, for
 * headers that some clients join.
 */
export function parseSetCookie(lines: readonly string[]): ParsedCookie[] {
  return parser.parse([...lines], { decodeValues: false, silent: true })
}
