// GET /desktops: a page listing the tenant's desktops (create, open, remove).
// It holds no data itself: the browser calls /v1/desktops with the API key
// the person types in (kept in sessionStorage, sent as a bearer header, never
// in a URL), so the page is as public as /docs.
export function desktopListPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>forkd desktops</title>
<meta name="referrer" content="no-referrer">
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse;width:100%}td,th{padding:4px 8px;border-bottom:1px solid #ddd;text-align:left}#err{color:#b00}</style>
</head><body>
<h1>Desktops</h1>
<p><label>API key <input id="key" type="password" size="40" autocomplete="off"></label> <button id="load" type="button">Load</button>
<button id="create" type="button">New desktop</button> <span id="busy"></span></p>
<p id="err"></p>
<table><thead><tr><th>id</th><th>state</th><th>size</th><th>created</th><th>last active</th><th></th></tr></thead><tbody id="rows"></tbody></table>
<script type="module">
const $ = (s) => document.getElementById(s);
$('key').value = sessionStorage.getItem('forkd-key') || '';
async function api(method, path, body) {
  sessionStorage.setItem('forkd-key', $('key').value);
  const r = await fetch(path, { method, headers: { authorization: 'Bearer ' + $('key').value, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  const j = await r.json().catch(() => ({}));
  if (!r.ok && r.status !== 202) throw new Error((j.error && j.error.message) || ('HTTP ' + r.status));
  return j;
}
const cell = (t) => { const td = document.createElement('td'); td.textContent = t; return td; };
function button(label, fn) { const b = document.createElement('button'); b.type = 'button'; b.textContent = label; b.onclick = () => fn().catch((e) => { $('err').textContent = e.message; }); return b; }
async function load() {
  $('err').textContent = '';
  const { desktops } = await api('GET', '/v1/desktops');
  $('rows').replaceChildren(...desktops.map((d) => {
    const tr = document.createElement('tr');
    tr.append(cell(d.id), cell(d.state), cell(d.width + '×' + d.height), cell(d.createdAt), cell(d.lastActiveAt));
    const actions = document.createElement('td');
    actions.append(button('Open', async () => { const t = await api('POST', '/v1/desktops/' + d.id + '/token'); window.open(t.url, '_blank', 'noopener'); }),
      ' ', button('Remove', async () => { await api('DELETE', '/v1/desktops/' + d.id); await load(); }));
    tr.append(actions);
    return tr;
  }));
}
async function create() {
  $('busy').textContent = 'creating…';
  try {
    let { operation } = await api('POST', '/v1/desktops', {});
    while (operation.state === 'running' || operation.state === 'queued') {
      ({ operation } = await api('GET', '/v1/operations/' + operation.id + '?waitSec=30&since=' + encodeURIComponent(operation.updatedAt)));
      $('busy').textContent = (operation.progress.step || 'creating') + '…';
    }
    if (operation.state === 'failed') throw new Error(operation.error.message);
  } finally { $('busy').textContent = ''; }
  await load();
}
$('load').onclick = () => load().catch((e) => { $('err').textContent = e.message; });
$('create').onclick = () => create().catch((e) => { $('err').textContent = e.message; });
if ($('key').value) load().catch((e) => { $('err').textContent = e.message; });
</script></body></html>
`;
}
