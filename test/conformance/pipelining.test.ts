import { expect } from 'chai'
import { type Shop, startShop } from '../suites/shop.js'
import { DRIVERS } from '../support/adapter-drivers.js'
import { rawExchange } from '../support/http-client.js'
import { cookieFrom } from '../support/session-cookie.js'

/** Splits what a server sent on one connection into its responses (status, headers, body). */
function splitResponses(raw: string): Array<{ status: number; setCookie: string[]; body: string }> {
  const responses: Array<{ status: number; setCookie: string[]; body: string }> = []
  let rest = raw
  while (rest.length > 0) {
    const headEnd = rest.indexOf('\r\n\r\n')
    if (headEnd < 0) break
    const lines = rest.slice(0, headEnd).split('\r\n')
    const status = Number(lines[0]!.split(' ')[1])
    const header = (name: string) =>
      lines
        .slice(1)
        .filter((line) => line.toLowerCase().startsWith(`${name}:`))
        .map((line) => line.slice(name.length + 1).trim())
    const length = Number(header('content-length')[0] ?? 0)
    const bodyStart = headEnd + 4
    responses.push({
      status,
      setCookie: header('set-cookie'),
      body: rest.slice(bodyStart, bodyStart + length),
    })
    rest = rest.slice(bodyStart + length)
  }
  return responses
}

const get = (path: string, cookie?: string, last = false) =>
  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${cookie === undefined ? '' : `Cookie: ${cookie}\r\n`}${last ? 'Connection: close\r\n' : ''}\r\n`

for (const driver of DRIVERS) {
  describe(`${driver.name}: several requests on one connection`, () => {
    let shop: Shop
    afterEach(async () => shop?.close())

    it('commits each request to its own session, with each Set-Cookie on its own response', async () => {
      shop = await startShop(driver)
      const alice = cookieFrom(await shop.app.get('/set?key=name&value=alice'))
      const bob = cookieFrom(await shop.app.get('/set?key=name&value=bob'))
      const port = Number(new URL(shop.app.url).port)
      // Sent in one write: a slow request of Alice's, one of Bob's, then one without a cookie.
      const { response } = await rawExchange(port, [
        get('/set-later?key=fromAlice&ms=40', alice) +
          get('/set?key=fromBob&value=1', bob) +
          get('/set?key=fresh&value=1', undefined, true),
      ])
      const answers = splitResponses(response)
      expect(answers.map((a) => a.status)).to.deep.equal([200, 200, 200])
      // Only the new session sends a cookie, on the third response.
      expect(answers[0]!.setCookie).to.deep.equal([])
      expect(answers[1]!.setCookie).to.deep.equal([])
      expect(answers[2]!.setCookie).to.have.length(1)
      const fresh = answers[2]!.setCookie[0]!.split(';')[0]!

      const read = async (cookie: string) =>
        (await shop.app.get('/read').set('Cookie', cookie).expect(200)).body.values
      expect(await read(alice)).to.deep.equal({ name: 'alice', fromAlice: true })
      expect(await read(bob)).to.deep.equal({ name: 'bob', fromBob: 1 })
      expect(await read(fresh)).to.deep.equal({ fresh: 1 })
    })

    it('commits each keep-alive request to its own session when they come one after another', async () => {
      shop = await startShop(driver)
      const alice = cookieFrom(await shop.app.get('/set?key=name&value=alice'))
      const bob = cookieFrom(await shop.app.get('/set?key=name&value=bob'))
      const port = Number(new URL(shop.app.url).port)
      // Each request is sent once the one before has been answered (150 ms apart).
      const { response } = await rawExchange(
        port,
        [
          get('/set?key=first&value=1', alice),
          get('/set?key=second&value=2', bob),
          get('/set?key=third&value=3'),
          get('/set?key=fourth&value=4', alice, true),
        ],
        { gap: 150 },
      )
      const answers = splitResponses(response)
      expect(answers.map((a) => a.status)).to.deep.equal([200, 200, 200, 200])
      expect(answers.map((a) => a.setCookie.length)).to.deep.equal([0, 0, 1, 0])
      const fresh = answers[2]!.setCookie[0]!.split(';')[0]!
      const read = async (cookie: string) =>
        (await shop.app.get('/read').set('Cookie', cookie).expect(200)).body.values
      expect(await read(alice)).to.deep.equal({ name: 'alice', first: 1, fourth: 4 })
      expect(await read(bob)).to.deep.equal({ name: 'bob', second: 2 })
      expect(await read(fresh)).to.deep.equal({ third: 3 })
    })
  })
}
