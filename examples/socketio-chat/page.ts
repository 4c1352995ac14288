// The chat page: plain HTML, a little CSS and script, and socket.io's client bundle, which
// socket.io serves itself at /socket.io/socket.io.js (no CDN).
export const CHAT_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tether chat</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
  h1 { font-size: 1.4rem; margin-bottom: .2rem; }
  #status { color: #555; margin: 0 0 1rem; }
  #status b { color: #0a5; }
  #log { list-style: none; padding: .5rem; margin: 0 0 1rem; border: 1px solid #ccc; border-radius: 6px; height: 18rem; overflow-y: auto; background: #fafafa; }
  #log li { margin: .15rem 0; }
  #log .via { color: #888; font-size: .85em; }
  form { display: flex; gap: .5rem; }
  input { font: inherit; padding: .35rem .5rem; border: 1px solid #bbb; border-radius: 4px; }
  #text { flex: 1; }
  button { font: inherit; padding: .35rem .9rem; }
</style>
</head>
<body>
<h1>Tether chat</h1>
<p id="status">connecting…</p>
<ul id="log"></ul>
<form id="form">
  <input id="name" aria-label="name" size="10">
  <input id="text" aria-label="message" placeholder="Say something" autocomplete="off">
  <button>Send</button>
</form>
<script src="/socket.io/socket.io.js"></script>
<script>
  // ?transport=polling or ?transport=websocket keeps the connection on one transport.
  const only = new URLSearchParams(location.search).get('transport')
  const socket = io(only ? { transports: [only] } : {})
  const $ = (id) => document.getElementById(id)
  $('name').value = 'guest-' + Math.floor(Math.random() * 1000)
  let worker = '?'
  const show = () => {
    const transport = socket.io.engine ? socket.io.engine.transport.name : '-'
    $('status').innerHTML = socket.connected
      ? 'connected to worker <b>' + worker + '</b> over ' + transport
      : 'disconnected'
  }
  socket.on('welcome', (w) => { worker = w.worker + ' (pid ' + w.pid + ')'; show() })
  socket.on('disconnect', show)
  socket.io.on('open', () => socket.io.engine.on('upgrade', show))
  socket.on('said', (m) => {
    const li = document.createElement('li')
    li.append(Object.assign(document.createElement('b'), { textContent: m.name + ': ' }), m.text + ' ')
    li.append(Object.assign(document.createElement('span'), { className: 'via', textContent: 'via ' + m.worker }))
    $('log').append(li)
    li.scrollIntoView()
  })
  $('form').addEventListener('submit', (event) => {
    event.preventDefault()
    const text = $('text').value
    if (text.trim() === '') return
    socket.emit('say', { name: $('name').value, text }, () => { $('text').value = '' })
  })
</script>
</body>
</html>
`
