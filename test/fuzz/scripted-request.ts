import { type Agent, type IncomingHttpHeaders, request } from 'node:http'
import { expect } from 'chai'
import { parseSetCookie } from './set-cookie-parser.js'

/** What the Set-Cookie differentials compare of an answer. */
export interface ScriptedAnswer {
  status: number
  /** The Set-Cookie lines as they came, in order. */
  setCookie: string[]
  headers: IncomingHttpHeaders
}

/**
 * GET `path` with `script` in the X-Script header (the handler reads what to do from it), on the
 * kept-alive `agent`; rejects when no answer comes within 5 s.
 */
export function scriptedRequest(
  port: number,
  agent: Agent,
  path: string,
  script: unknown,
): Promise<ScriptedAnswer> {
  const header = Buffer.from(JSON.stringify(script)).toString('base64')
  return new Promise((resolve, reject) => {
    const req = request({ port, host: '127.0.0.1', path, agent, headers: { 'x-script': header } }, (res) => {
      const setCookie: string[] = []
      for (let i = 0; i < res.rawHeaders.length; i += 2) {
        if (res.rawHeaders[i]!.toLowerCase() === 'set-cookie') setCookie.push(res.rawHeaders[i + 1]!)
      }
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode!, setCookie, headers: res.headers }))
      res.on('error', reject)
    })
    req.setTimeout(5_000, () => req.destroy(new Error(`no answer to ${path} in 5 s`)))
    req.on('error', reject)
    req.end()
  })
}

/**
 * What both adapters' differentials check: the answer with Tether has the status of the one
 * without, the app's Set-Cookie lines first and unchanged, then Tether's cookie when the session
 * changed. `mayMiss`: the answer failed (or went out without the reply's headers), possibly before
 * the commit, so Tether's cookie may be missing from it.
 */
export function expectAppLinesThenTether(
  plain: Pick<ScriptedAnswer, 'status' | 'setCookie'>,
  tether: Pick<ScriptedAnswer, 'status' | 'setCookie'>,
  changed: boolean,
  mayMiss: boolean,
  context: string,
): void {
  expect(tether.status, context).to.equal(plain.status)
  expect(tether.setCookie.slice(0, plain.setCookie.length), context).to.deep.equal(plain.setCookie)
  const added = tether.setCookie.slice(plain.setCookie.length)
  if (!changed || mayMiss) {
    expect(added.length, context).to.be.at.most(changed ? 1 : 0)
    if (added.length === 0) return
  }
  expect(added, context).to.have.length(1)
  const [cookie] = parseSetCookie(added)
  expect(cookie?.name, context).to.equal('tether.sid')
  expect(cookie?.value, context).to.match(/^[\w-]{43}\.[\w-]+\.[\w-]{22}$/)
}
