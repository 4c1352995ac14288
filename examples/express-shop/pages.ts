// The shop's HTML. Every value that came from a user goes through escapeHtml; messages are fixed
// texts chosen by a code in the query string, so nothing a visitor types is ever echoed raw.

/** What the page shows about the worker and the session. */
export interface ShopView {
  /** The worker that answered (its route in the cluster) and its pid. */
  readonly worker: { readonly name: string; readonly pid: number }
  readonly user: { readonly name: string; readonly role: string } | undefined
  readonly cart: readonly string[]
  /** When the session was created, in ms since the epoch; undefined without a session. */
  readonly since: number | undefined
  readonly idleTimeoutMs: number
  readonly message: string | undefined
  readonly dashboard: boolean
}

/** The texts behind `?msg=`: a visitor can pick one, never write one. */
export const MESSAGES: Readonly<Record<string, { text: string; kind: 'ok' | 'error' }>> = {
  'logged-in': { text: 'You are logged in. Your cart came with you.', kind: 'ok' },
  'logged-out': { text: 'You are logged out: the session is gone.', kind: 'ok' },
  'logged-out-everywhere': {
    text: 'You are logged out on every device: all your sessions are gone.',
    kind: 'ok',
  },
  added: { text: 'Added to your cart.', kind: 'ok' },
  'wrong-password': { text: 'Wrong name or password.', kind: 'error' },
  'bad-item': { text: 'Name an item of 1 to 100 characters.', kind: 'error' },
  'not-admin': { text: 'The admin page is for admins: log in as alice.', kind: 'error' },
}

export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!,
  )
}

/** "4 min 05 s", "2 h 10 min": the age of a session. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000))
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`
}

/** The frame of every page: stylesheet, icon, header with the worker that answered. */
export function layout(title: string, worker: ShopView['worker'], body: string, dashboard: boolean): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="/style.css">
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
</head>
<body>
<header class="top">
  <a class="brand" href="/">Tether shop</a>
  <nav>${dashboard ? '<a href="/dashboard">Dashboard</a>' : ''}<a href="/admin">Admin</a></nav>
  <span class="worker" data-testid="worker">answered by <b data-testid="worker-name">${escapeHtml(worker.name)}</b> · pid <b data-testid="worker-pid">${worker.pid}</b></span>
</header>
<main>
${body}
</main>
</body>
</html>`
}

export function shopPage(view: ShopView): string {
  const message = view.message === undefined ? undefined : MESSAGES[view.message]
  const flash =
    message === undefined
      ? ''
      : `<p class="flash ${message.kind}" role="status" data-testid="message">${escapeHtml(message.text)}</p>`
  const who =
    view.user === undefined
      ? `<p>Not logged in.</p>
<form method="post" action="/login" class="row">
  <input name="username" placeholder="name" autocomplete="username" required>
  <input name="password" type="password" placeholder="password" autocomplete="current-password" required>
  <button>Log in</button>
</form>
<p class="hint">Try <b>alice</b> / wonderland (admin) or <b>bob</b> / builder (customer).</p>`
      : `<p>Logged in as <b data-testid="user">${escapeHtml(view.user.name)}</b> (${escapeHtml(view.user.role)}).</p>
<div class="row">
  <form method="post" action="/logout"><button class="secondary">Log out</button></form>
  <form method="post" action="/logout-everywhere"><button class="secondary">Log out everywhere</button></form>
</div>`
  const session =
    view.since === undefined
      ? '<p class="hint" data-testid="session">No session yet: one starts with your first item or login.</p>'
      : `<dl class="facts" data-testid="session">
  <dt>Session age</dt><dd data-testid="session-age">${formatDuration(Date.now() - view.since)}</dd>
  <dt>Idle timeout</dt><dd>${formatDuration(view.idleTimeoutMs)} without a request</dd>
  <dt>Held by</dt><dd>worker ${escapeHtml(view.worker.name)} (pid ${view.worker.pid})</dd>
</dl>`
  const items =
    view.cart.length === 0
      ? '<p class="hint" data-testid="cart-empty">Your cart is empty.</p>'
      : `<ul class="cart" data-testid="cart">${view.cart.map((item) => `<li>${escapeHtml(item)}</li>`).join('')}</ul>`
  const body = `${flash}
<section class="panels">
  <article class="panel">
    <h2>You</h2>
    ${who}
    ${session}
  </article>
  <article class="panel">
    <h2>Cart</h2>
    ${items}
    <form method="post" action="/cart" class="row">
      <input name="item" placeholder="an item, e.g. apple" maxlength="100" required>
      <button>Add to cart</button>
    </form>
  </article>
</section>
<p class="hint">Every request goes to the worker that holds your session: reload and the worker stays the same.${
    view.dashboard ? ' Watch it live on the <a href="/dashboard">dashboard</a>.' : ''
  }</p>`
  return layout('Tether shop', view.worker, body, view.dashboard)
}

/** The admin page: this worker's session counters as a table. */
export function adminPage(
  worker: ShopView['worker'],
  counters: Record<string, unknown>,
  dashboard: boolean,
): string {
  const rows = Object.entries(counters)
    .map(([name, value]) => `<tr><th>${escapeHtml(name)}</th><td>${escapeHtml(String(value))}</td></tr>`)
    .join('')
  const body = `<article class="panel">
<h2>Sessions of worker ${escapeHtml(worker.name)}</h2>
<p class="hint">The counters of the worker that answered. The whole cluster is on the ${
    dashboard ? '<a href="/dashboard">dashboard</a>' : 'dashboard (in the cluster demo)'
  }.</p>
<table class="counters">${rows}</table>
</article>`
  return layout('Tether shop: admin', worker, body, dashboard)
}
