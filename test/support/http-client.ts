// Small HTTP and raw-socket clients for tests that drive a server over real sockets.
import http from 'node:http'
import net from 'node:net'

/** A response with its body parsed as JSON when it is JSON. */
export interface JsonResponse {
  status: number
  headers: http.IncomingHttpHeaders
  body: Record<string, unknown>
  text: string
}

/**
 * Set on the error of a request that went out on a pooled keep-alive connection and got no byte
 * of an answer: the server closed the connection as idle while the request was on its way (the
 * race HTTP/1.1 clients, browsers among them, answer by sending the request again).
 */
export interface StaleConnectionError extends Error {
  staleConnection?: boolean
}

/** Sends one request and reads the whole response; rejects after `timeout` ms. */
export function request(
  port: number,
  path: string,
  options: {
    method?: string
    headers?: http.OutgoingHttpHeaders
    agent?: http.Agent | false
    body?: Buffer
    timeout?: number
  } = {},
): Promise<JsonResponse> {
  return new Promise((resolve, reject) => {
    let answered = false
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? 'GET',
        headers: options.headers ?? {},
        agent: options.agent ?? false,
      },
      (res) => {
        answered = true
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          let body: Record<string, unknown> = {}
          if (String(res.headers['content-type']).includes('json')) body = JSON.parse(text)
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text })
        })
        res.on('error', reject)
      },
    )
    req.setTimeout(options.timeout ?? 10_000, () => req.destroy(new Error(`request to ${path} timed out`)))
    req.on('error', (error: StaleConnectionError) => {
      if (req.reusedSocket && !answered) error.staleConnection = true
      reject(error)
    })
    req.end(options.body)
  })
}

/** The `name=value` part of a Set-Cookie header, for sending back as a Cookie header. */
export function cookieOf(response: JsonResponse): string {
  const header = response.headers['set-cookie']?.[0]
  if (header === undefined) throw new Error(`no Set-Cookie in response ${response.status} ${response.text}`)
  return header.split(';')[0]!
}

/**
 * Opens a raw connection, writes `chunks` (awaiting `gap` ms between them) and resolves with
 * everything the server sent once it closes the connection (or after `timeout` ms).
 */
export function rawExchange(
  port: number,
  chunks: readonly (Buffer | string)[],
  options: { gap?: number; timeout?: number; host?: string } = {},
): Promise<{ response: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: options.host ?? '127.0.0.1' })
    const received: Buffer[] = []
    let finished = false
    const finish = (closed: boolean) => {
      if (finished) return
      finished = true
      clearTimeout(timer)
      socket.destroy()
      resolve({ response: Buffer.concat(received).toString('latin1'), closed })
    }
    const timer = setTimeout(() => finish(false), options.timeout ?? 10_000)
    socket.on('data', (chunk: Buffer) => received.push(chunk))
    socket.on('close', () => finish(true))
    socket.on('error', (error) => (received.length > 0 ? finish(true) : reject(error)))
    socket.once('connect', async () => {
      for (const chunk of chunks) {
        if (socket.destroyed) return
        socket.write(chunk)
        if (options.gap !== undefined && options.gap > 0) await new Promise((r) => setTimeout(r, options.gap))
      }
    })
  })
}
