// The demo (`npm run demo`) in a real browser: headless Chromium (Debian's `chromium`) driven by
// playwright-core. Everything is read from the pages as a visitor sees them. With
// TETHER_SCREENSHOTS=<dir> it also saves the screenshots the README shows.
import { execFileSync } from 'node:child_process'
import http from 'node:http'
import { join } from 'node:path'
import { expect } from 'chai'
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core'
import { type RunningExample, startExample } from '../support/example-process.js'
import { describeWith } from '../support/system-binaries.js'

/** The little of the DOM the page functions below use (they run in the browser, not here). */
interface PageElement {
  readonly textContent: string | null
  readonly dataset: Record<string, string | undefined>
}
declare const document: {
  querySelector(selector: string): PageElement | null
  querySelectorAll(selector: string): { readonly length: number }
}

function chromiumPath(): string {
  return (
    process.env.CHROMIUM_PATH ??
    execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim()
  )
}

/** The worker named in the page header: `answered by w1 · pid 1234`. */
async function answeredBy(page: Page): Promise<{ name: string; pid: number }> {
  return {
    name: (await page.getByTestId('worker-name').textContent()) ?? '',
    pid: Number(await page.getByTestId('worker-pid').textContent()),
  }
}

async function cartOf(page: Page): Promise<string[]> {
  if ((await page.getByTestId('cart-empty').count()) > 0) return []
  return page.getByTestId('cart').locator('li').allTextContents()
}

async function addToCart(page: Page, item: string): Promise<void> {
  await page.getByPlaceholder('an item, e.g. apple').fill(item)
  await page.getByRole('button', { name: 'Add to cart' }).click()
  await page.getByTestId('message').filter({ hasText: 'Added to your cart.' }).waitFor()
}

/** Waits (bounded) until the dashboard says which worker holds this browser's session. */
async function dashboardWorker(page: Page, not?: string): Promise<string> {
  const handle = await page.waitForFunction(
    (excluded) => {
      const worker = document.querySelector('[data-testid="your-session"]')?.dataset.worker
      return worker !== undefined && worker !== '' && worker !== excluded ? worker : undefined
    },
    not,
    { timeout: 20_000 },
  )
  return (await handle.jsonValue()) as string
}

/** Some visitors, each with its own connection like a browser, adding to their carts for `ms`. */
async function traffic(url: string, ms: number): Promise<void> {
  const until = Date.now() + ms
  await Promise.all(
    Array.from({ length: 12 }, async (_, i) => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
      let cookie = ''
      while (Date.now() < until) {
        cookie = await new Promise<string>((resolve, reject) => {
          const req = http.request(
            `${url}/cart`,
            { method: 'POST', agent, headers: { 'content-type': 'application/json', cookie } },
            (res) => {
              res.resume()
              res.on('end', () => resolve(res.headers['set-cookie']?.[0]?.split(';')[0] ?? cookie))
            },
          )
          req.on('error', reject)
          req.end(JSON.stringify({ item: `item-${i}` }))
        })
        await new Promise((resolve) => setTimeout(resolve, 40 + i * 15))
      }
      agent.destroy()
    }),
  )
}

describeWith('chromium', 'the demo in a real browser (headless Chromium)', function () {
  this.timeout(120_000)
  const screenshots = process.env.TETHER_SCREENSHOTS
  let browser: Browser
  before(async () => {
    browser = await chromium.launch({
      executablePath: chromiumPath(),
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    })
  })
  after(async () => browser?.close())

  describe('with replication (the default)', () => {
    let shop: RunningExample
    let context: BrowserContext
    before(async () => {
      shop = await startExample('express-shop', {}, 'cluster.ts')
      context = await browser.newContext({ viewport: { width: 1100, height: 900 } })
    })
    after(async () => {
      await context?.close()
      await shop?.stop()
    })

    it('logs in, fills the cart, reloads on the same worker, survives a kill, logs out', async () => {
      const page = await context.newPage()
      const errors: string[] = []
      page.on('pageerror', (error) => errors.push(error.message))
      await page.goto(shop.url)
      expect(await page.title()).to.equal('Tether shop')
      await page.getByTestId('session').filter({ hasText: 'No session yet' }).waitFor()

      // Log in: a page with a message comes back, never JSON.
      await page.getByPlaceholder('name').fill('bob')
      await page.getByPlaceholder('password').fill('builder')
      await page.getByRole('button', { name: 'Log in' }).click()
      await page.getByTestId('message').filter({ hasText: 'You are logged in' }).waitFor()
      expect(await page.getByTestId('user').textContent()).to.equal('bob')
      await addToCart(page, 'apple')
      await addToCart(page, 'pear')
      const owner = await answeredBy(page)
      expect(owner.name).to.match(/^w[0-3]$/)
      expect(await cartOf(page)).to.deep.equal(['apple', 'pear'])
      expect(await page.getByTestId('session-age').textContent()).to.match(/^\d+ s$/)

      // Reload: the same worker, the same cart.
      for (let i = 0; i < 3; i++) {
        await page.reload()
        expect(await answeredBy(page)).to.deep.equal(owner)
        expect(await cartOf(page)).to.deep.equal(['apple', 'pear'])
      }
      if (screenshots !== undefined) await page.screenshot({ path: join(screenshots, 'demo-shop.png') })

      // The dashboard highlights the worker holding this session.
      const dashboard = await context.newPage()
      dashboard.on('pageerror', (error) => errors.push(error.message))
      await dashboard.goto(`${shop.url}/dashboard`)
      expect(await dashboardWorker(dashboard)).to.equal(owner.name)
      await dashboard.locator(`[data-testid="worker-${owner.name}"].yours`).waitFor()
      expect(await dashboard.getByTestId('workers').locator('article').count()).to.equal(4)
      // Every worker is up, with its pid.
      for (let w = 0; w < 4; w++) {
        await dashboard.getByTestId(`worker-w${w}`).locator('.state.up').waitFor()
        expect(Number(await dashboard.getByTestId(`w${w}-pid`).textContent())).to.be.greaterThan(0)
      }
      expect(await dashboard.getByTestId('replication').textContent()).to.include('sync')
      // A few seconds of traffic draw the chart.
      await dashboard.waitForFunction(() => document.querySelectorAll('#chart polyline').length === 4)
      if (screenshots !== undefined) {
        await traffic(shop.url, 20_000)
        await dashboard.screenshot({ path: join(screenshots, 'demo-dashboard.png'), fullPage: true })
      }

      // Kill the worker that holds the session: the session continues, with its data.
      await dashboard.getByTestId(`kill-${owner.name}`).click()
      await dashboard.getByText(`Killed worker ${owner.name} (pid ${owner.pid}) with SIGKILL`).waitFor()
      // The slot's worker is replaced (restarts 1) and gets the session back.
      await dashboard.waitForFunction(
        (name) => document.querySelector(`[data-testid="${name}-restarts"]`)?.textContent === '1',
        owner.name,
        { timeout: 20_000 },
      )
      await page.reload()
      const after = await answeredBy(page)
      expect(after.pid, 'a living worker answers').to.not.equal(owner.pid)
      expect(await page.getByTestId('user').textContent()).to.equal('bob')
      expect(await cartOf(page)).to.deep.equal(['apple', 'pear'])

      // Log out: the page says so, and the session is gone.
      await page.getByRole('button', { name: 'Log out', exact: true }).click()
      await page.getByTestId('message').filter({ hasText: 'You are logged out' }).waitFor()
      await page.getByRole('button', { name: 'Log in' }).waitFor()
      expect(await cartOf(page)).to.deep.equal([])
      expect(errors).to.deep.equal([])
    })
  })

  describe('without replication', () => {
    let shop: RunningExample
    let context: BrowserContext
    before(async () => {
      shop = await startExample('express-shop', { REPLICATION: 'off', WORKERS: '2' }, 'cluster.ts')
      context = await browser.newContext()
    })
    after(async () => {
      await context?.close()
      await shop?.stop()
    })

    it('a killed worker takes its sessions along: the visitor starts again on another worker', async () => {
      const page = await context.newPage()
      await page.goto(shop.url)
      await addToCart(page, 'plum')
      const owner = await answeredBy(page)
      const dashboard = await context.newPage()
      await dashboard.goto(`${shop.url}/dashboard`)
      expect(await dashboardWorker(dashboard)).to.equal(owner.name)
      expect(await dashboard.getByTestId('replication').textContent()).to.include('off')
      await dashboard.getByTestId(`kill-${owner.name}`).click()
      await dashboard.getByText(`Killed worker ${owner.name}`).waitFor()
      // While the slot is empty the other worker answers, and the cart is gone.
      await page.reload()
      expect((await answeredBy(page)).pid).to.not.equal(owner.pid)
      expect(await cartOf(page)).to.deep.equal([])
      await page.getByTestId('session').filter({ hasText: 'No session yet' }).waitFor()
    })
  })
})
