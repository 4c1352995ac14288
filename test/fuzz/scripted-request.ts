import { type Agent, type IncomingHttpHeaders, request } from 'node:http'

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
