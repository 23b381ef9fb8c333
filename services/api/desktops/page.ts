// The desktop page: noVNC's RFB (served by forkd under /novnc, no CDN) on a
// WebSocket to /desktops/:id/vnc with the same token. Resizes the session to
// the window, a small clipboard panel, reconnects after a drop, and says so
// when the desktop was removed or the token is no longer good. `data-state`
// on <body> is what the page is doing (the end-to-end test reads it).
export const NOVNC_PREFIX = '/novnc';

export function desktopPage(id: string): string {
  const idJson = JSON.stringify(id).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>forkd desktop</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<style>
html,body{margin:0;height:100%;background:#222;color:#eee;font:14px system-ui,sans-serif;overflow:hidden}
#screen{position:absolute;inset:0}
#bar{position:absolute;top:0;right:0;z-index:2;display:flex;gap:6px;padding:4px;background:#000a;border-bottom-left-radius:6px}
#clip{display:none;position:absolute;top:36px;right:4px;z-index:2;background:#333;padding:6px;border-radius:6px}
#clip textarea{width:320px;height:120px}
#msg{position:absolute;inset:0;display:none;align-items:center;justify-content:center;z-index:3;background:#222e;font-size:18px;text-align:center;padding:2em}
</style></head>
<body data-state="connecting">
<div id="bar"><span id="status">connecting…</span><button id="clipbtn" type="button">Clipboard</button></div>
<div id="clip"><textarea id="cliptext" aria-label="clipboard"></textarea><br><button id="clipsend" type="button">Send to desktop</button></div>
<div id="screen"></div>
<div id="msg"></div>
<script type="module">
import RFB from '${NOVNC_PREFIX}/core/rfb.js';
const id = ${idJson};
const token = new URLSearchParams(location.search).get('token') || '';
const q = '?token=' + encodeURIComponent(token);
const wsUrl = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/desktops/' + encodeURIComponent(id) + '/vnc' + q;
const $ = (s) => document.getElementById(s);
let rfb = null, retries = 0;
function state(s, text) { document.body.dataset.state = s; $('status').textContent = text; }
function stop(s, text) { state(s, text); $('msg').textContent = text; $('msg').style.display = 'flex'; }
// Why the connection ended: the status route answers with the token, like the socket.
async function why() {
  try {
    const r = await fetch('/desktops/' + encodeURIComponent(id) + '/status' + q, { cache: 'no-store' });
    if (r.status === 404) return 'removed';
    if (r.status === 401) return 'refused';
    return r.ok ? 'running' : 'unknown';
  } catch { return 'unknown'; }
}
function connect() {
  state('connecting', retries ? 'reconnecting…' : 'connecting…');
  rfb = new RFB($('screen'), wsUrl);
  rfb.resizeSession = true;   // the desktop takes the window's size (Xvnc AcceptSetDesktopSize)
  rfb.scaleViewport = false;
  rfb.focusOnClick = true;
  window.forkdDesktop = { rfb };
  rfb.addEventListener('connect', () => { retries = 0; state('connected', 'connected'); rfb.focus(); });
  rfb.addEventListener('clipboard', (e) => { $('cliptext').value = e.detail.text; });
  rfb.addEventListener('disconnect', async () => {
    const s = await why();
    if (s === 'removed') return stop('removed', 'This desktop was removed.');
    if (s === 'refused') return stop('refused', 'This link has expired or is not valid: ask for a new one (forkd desktop open).');
    retries++;
    const wait = Math.min(10000, 500 * 2 ** Math.min(retries, 5));
    state('reconnecting', 'connection lost, reconnecting…');
    setTimeout(connect, wait);
  });
}
$('clipbtn').onclick = () => { const c = $('clip'); c.style.display = c.style.display === 'block' ? 'none' : 'block'; };
$('clipsend').onclick = () => { if (rfb) rfb.clipboardPasteFrom($('cliptext').value); };
connect();
</script>
</body></html>
`;
}
