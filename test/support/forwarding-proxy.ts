// A minimal HTTP reverse proxy on loopback: every request it receives goes upstream on a new
// connection from its own address (127.0.0.2), with the client added to X-Forwarded-For, as a
// proxy or NAT in front of a cluster would make every visitor look alike.
import http from 'node:http'
import type { AddressInfo } from 'node:net'

/** A running proxy: its port, and close(). */
export interface ForwardingProxy {
  readonly port: number
  close(): Promise<void>
}

/** The address the proxy's upstream connections come from. */
export const PROXY_ADDRESS = '127.0.0.2'

export async function startForwardingProxy(upstreamPort: number): Promise<ForwardingProxy> {
  const server = http.createServer((req, res) => {
    const client = req.socket.remoteAddress ?? ''
    const forwarded = req.headers['x-forwarded-for']
    const upstream = http.request(
      {
        host: '127.0.0.1',
        port: upstreamPort,
        localAddress: PROXY_ADDRESS,
        agent: false,
        method: req.method,
        path: req.url,
        headers: {
          ...req.headers,
          'x-forwarded-for': forwarded === undefined ? client : `${forwarded}, ${client}`,
        },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      },
    )
    upstream.on('error', () => {
      res.writeHead(502)
      res.end()
    })
    req.pipe(upstream)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
