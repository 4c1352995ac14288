// The dashboard's page script: draws what /dashboard/events streams (the cluster's metrics, once a
// second) and asks the shop which worker holds this browser's session. Plain DOM, no libraries.

const COLOURS = ['#1f77b4', '#e4572e', '#2ca02c', '#9467bd', '#ff9f1c', '#17becf', '#8c564b', '#e377c2']
const WINDOW_MS = 60_000
const killControl = document.body.dataset.kill === 'on'
/** Samples received, oldest first: { at, metrics }. */
const samples = []
let yours

const $ = (id) => document.getElementById(id)

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) {
    if (name === 'text') node.textContent = value
    else node.setAttribute(name, value)
  }
  for (const child of children) node.append(child)
  return node
}

function colourOf(route, slots) {
  return COLOURS[slots.findIndex((s) => s.route === route) % COLOURS.length]
}

/** The worker's state as a person reads it. */
function stateOf(slot) {
  if (slot.state === 'ready') return 'up'
  if (slot.state === 'restarting') return 'down'
  if (slot.state === 'failed') return 'down'
  return slot.state
}

/** Requests per second of `route` between two samples. */
function rate(older, newer, route) {
  const a = older.metrics.slots.find((s) => s.route === route)
  const b = newer.metrics.slots.find((s) => s.route === route)
  if (a === undefined || b === undefined) return 0
  const seconds = (newer.at - older.at) / 1000
  return seconds > 0 ? Math.max(0, b.requests - a.requests) / seconds : 0
}

function notice(text, kind = 'ok') {
  const p = $('notice')
  p.textContent = text
  p.className = `flash ${kind}`
  p.hidden = false
}

async function kill(route) {
  const response = await fetch('/dashboard/kill', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ worker: route }),
  })
  const body = await response.json().catch(() => ({}))
  if (response.ok)
    notice(
      `Killed worker ${body.killed} (pid ${body.pid}) with SIGKILL. Watch its sessions move and come back.`,
    )
  else notice(`Could not kill ${route}: ${body.error ?? response.status}`, 'error')
}

function renderWorkers(latest, previous) {
  const slots = latest.metrics.slots
  const cards = slots.map((slot) => {
    const state = stateOf(slot)
    const mine = yours !== undefined && yours.worker.name === slot.route
    const title = el(
      'h3',
      {},
      el('span', { text: slot.route }),
      el('span', { class: `state ${state}`, text: state }),
    )
    if (slot.draining > 0)
      title.append(el('span', { class: 'state draining', text: `${slot.draining} draining` }))
    if (mine) title.append(el('span', { class: 'you', text: 'your session' }))
    const facts = el('dl')
    const perSecond = previous === undefined ? 0 : rate(previous, latest, slot.route)
    for (const [name, value] of [
      ['pid', slot.pid ?? '–'],
      ['sessions', slot.sessions],
      ['requests', slot.requests],
      ['requests/s', perSecond.toFixed(1)],
      ['connections', slot.connections],
      ['restarts', slot.restarts],
    ]) {
      facts.append(
        el('dt', { text: name }),
        el('dd', { text: String(value), 'data-testid': `${slot.route}-${name}` }),
      )
    }
    const card = el(
      'article',
      { class: mine ? 'card yours' : 'card', 'data-testid': `worker-${slot.route}` },
      title,
      facts,
    )
    card.style.setProperty('--swatch', colourOf(slot.route, slots))
    if (killControl) {
      const button = el('button', {
        class: 'danger',
        type: 'button',
        'data-testid': `kill-${slot.route}`,
        text: 'Kill',
      })
      button.disabled = slot.pid === undefined
      button.addEventListener('click', () => void kill(slot.route))
      card.append(button)
    }
    return card
  })
  $('workers').replaceChildren(...cards)
}

function renderTable(id, rows) {
  $(id).replaceChildren(
    ...rows.map(([name, value]) => el('tr', {}, el('th', { text: name }), el('td', { text: String(value) }))),
  )
}

function renderCounters(m) {
  const rows = Object.entries(m.routedBy).map(([by, n]) => [`routed by ${by}`, n])
  rows.push(
    ['fallbacks (owner down)', m.fallbacks],
    ['misroutes', m.misroutes],
    ...Object.entries(m.rejected).map(([reason, n]) => [`rejected: ${reason}`, n]),
    ['aborted heads', m.aborted],
    ['hand-off retries', m.handoffRetries],
    ['restarts', m.restarts],
    ['hung workers killed', m.hung],
    ['crash loops', m.crashLoops],
  )
  renderTable('routing', rows)
  const r = m.replication
  $('copies').hidden = r.mode === 'off'
  renderTable(
    'replication',
    r.mode === 'off'
      ? [['mode', 'off']]
      : [
          ['mode', r.mode],
          ['changes sent', r.sent],
          ['acknowledged', r.acknowledged],
          ['dropped (resent later)', r.dropped],
          ['without a backup', r.withoutBackup],
          ['answered before the backup had it', r.unacknowledged],
          ['lag (ms)', r.lagMs],
          ['pending', r.pending],
          ['whole-route copies', r.snapshots],
        ],
  )
}

function renderChart() {
  const svg = $('chart')
  const ns = 'http://www.w3.org/2000/svg'
  const latest = samples.at(-1)
  if (latest === undefined) return
  const slots = latest.metrics.slots
  const series = slots.map((slot) => {
    const points = []
    for (let i = 1; i < samples.length; i++)
      points.push([samples[i].at, rate(samples[i - 1], samples[i], slot.route)])
    return { route: slot.route, points }
  })
  const top = Math.max(1, ...series.flatMap((s) => s.points.map((p) => p[1])))
  const x = (at) => 40 + ((at - (latest.at - WINDOW_MS)) / WINDOW_MS) * 550
  const y = (v) => 165 - (v / top) * 150
  const children = []
  for (const [value, label] of [
    [0, '0'],
    [top, top.toFixed(top < 10 ? 1 : 0)],
  ]) {
    const line = document.createElementNS(ns, 'line')
    for (const [k, v] of Object.entries({ x1: 40, x2: 590, y1: y(value), y2: y(value), class: 'axis' }))
      line.setAttribute(k, v)
    const text = document.createElementNS(ns, 'text')
    text.setAttribute('x', 4)
    text.setAttribute('y', y(value) + 3)
    text.textContent = label
    children.push(line, text)
  }
  for (const s of series) {
    const line = document.createElementNS(ns, 'polyline')
    line.setAttribute('fill', 'none')
    line.setAttribute('stroke', colourOf(s.route, slots))
    line.setAttribute('stroke-width', '2')
    line.setAttribute('points', s.points.map(([at, v]) => `${x(at).toFixed(1)},${y(v).toFixed(1)}`).join(' '))
    children.push(line)
  }
  svg.replaceChildren(...children)
  $('legend').replaceChildren(
    ...slots.map((slot) => {
      const swatch = el('i')
      swatch.style.setProperty('--swatch', colourOf(slot.route, slots))
      return el('span', {}, swatch, slot.route)
    }),
  )
}

/** Asks the shop (through the router, like any page) which worker holds this browser's session. */
async function findYourSession() {
  try {
    const response = await fetch('/', { headers: { accept: 'application/json' }, cache: 'no-store' })
    const body = await response.json()
    yours = body
    const text =
      body.since === null
        ? 'You have no session yet: add something to the cart in the shop, then come back.'
        : `Held by worker ${body.worker.name} (pid ${body.worker.pid}) · ${
            body.user === null ? 'not logged in' : `logged in as ${body.user.name}`
          } · ${body.cart.length} item${body.cart.length === 1 ? '' : 's'} in the cart`
    const p = document.querySelector('[data-testid="your-session"]')
    p.textContent = text
    p.dataset.worker = body.since === null ? '' : body.worker.name
  } catch {
    // The worker that held it is going away; the next sample asks again.
  }
}

function onSample(sample) {
  if (samples.length > 0 && sample.at <= samples.at(-1).at) return
  samples.push(sample)
  while (samples.length > 0 && samples[0].at < sample.at - WINDOW_MS - 1000) samples.shift()
  renderWorkers(sample, samples.at(-2))
  renderCounters(sample.metrics)
  renderChart()
}

const events = new EventSource('/dashboard/events')
events.onmessage = (event) => {
  onSample(JSON.parse(event.data))
  void findYourSession().then(() => renderWorkers(samples.at(-1), samples.at(-2)))
}
events.addEventListener('problem', (event) => notice(JSON.parse(event.data).message, 'error'))
