// HTTP for the registry client on node:http/node:https rather than fetch:
// a custom CA bundle per client (fetch needs undici's Agent for that, which
// forkd does not depend on), streamed request and response bodies, and two
// bounds on a slow registry: time to the response headers and time between
// body bytes. Redirects (blob GETs often go to object storage) are followed,
// dropping Authorization when the host changes.

import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { ForkdError } from '../../services/contracts/errors.js';

export interface HttpOptions {
  /** PEM bundle trusted in addition to Node's roots. */
  ca?: string | undefined;
  /** Bound on the wait for response headers and on each gap between body bytes. */
  timeoutMs: number;
}

export interface HttpRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: Buffer | Readable;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  url: string;
  body: http.IncomingMessage;
}

const MAX_REDIRECTS = 5;

function unreachable(url: string, why: string, cause?: unknown): ForkdError {
  const host = safeHost(url);
  return new ForkdError('ERR_REGISTRY_UNREACHABLE', `registry ${host} ${why}`, { field: 'ref', detail: { registry: host }, ...(cause === undefined ? {} : { cause }) });
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

function describeNetError(e: NodeJS.ErrnoException, url: string): string {
  const code = e.code ?? '';
  if (code === 'ECONNREFUSED') return 'refused the connection';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'has no address (DNS lookup failed)';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'closed the connection';
  if (code.startsWith('ERR_TLS') || code.includes('CERT') || code === 'DEPTH_ZERO_SELF_SIGNED_CERT' || /certificate|ssl|tls|wrong version/i.test(e.message)) {
    return url.startsWith('https:')
      ? `failed the TLS handshake (${e.message}): trust its CA with FORKD_REGISTRY_CA_FILE, or use --insecure if it speaks plain HTTP`
      : `failed the connection (${e.message})`;
  }
  return `failed (${code || e.message})`;
}

/** One request, redirects followed. The body stream is the caller's to read or destroy. */
export async function send(req: HttpRequest, opts: HttpOptions): Promise<HttpResponse> {
  let url = req.url;
  let method = req.method;
  let headers = { ...(req.headers ?? {}) };
  let body = req.body;
  for (let hop = 0; ; hop++) {
    const res = await sendOnce({ method, url, headers, ...(body === undefined ? {} : { body }) }, opts);
    const location = res.headers.location;
    if (![301, 302, 303, 307, 308].includes(res.status) || location === undefined) return res;
    res.body.resume();
    if (hop >= MAX_REDIRECTS) throw unreachable(url, `redirected more than ${MAX_REDIRECTS} times`);
    const next = new URL(location, url);
    if (next.host !== new URL(url).host) {
      const { authorization: _dropped, ...rest } = headers;
      headers = rest;
    }
    if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
      method = 'GET';
      body = undefined;
    }
    url = next.toString();
  }
}

function sendOnce(req: HttpRequest, opts: HttpOptions): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    let u: URL;
    try {
      u = new URL(req.url);
    } catch {
      reject(unreachable(req.url, 'has a malformed URL'));
      return;
    }
    const lib = u.protocol === 'https:' ? https : http;
    const headers: Record<string, string> = { 'user-agent': 'forkd', ...(req.headers ?? {}) };
    if (Buffer.isBuffer(req.body)) headers['content-length'] = String(req.body.length);
    const r = lib.request(u, { method: req.method, headers, ...(u.protocol === 'https:' && opts.ca !== undefined ? { ca: opts.ca } : {}) });
    let settled = false;
    const fail = (e: unknown): void => {
      if (settled) return;
      settled = true;
      reject(e instanceof ForkdError ? e : unreachable(req.url, describeNetError(e as NodeJS.ErrnoException, req.url), e));
    };
    // Until headers arrive: a registry that accepts the connection and says nothing.
    const headerTimer = setTimeout(() => {
      r.destroy(unreachable(req.url, `did not answer ${req.method} ${u.pathname} within ${opts.timeoutMs} ms`));
    }, opts.timeoutMs);
    r.on('error', (e) => {
      clearTimeout(headerTimer);
      fail(e);
    });
    r.on('response', (res) => {
      clearTimeout(headerTimer);
      settled = true;
      // Between body bytes: a registry that stalls mid-blob. The error reaches
      // whoever reads the body.
      res.setTimeout(opts.timeoutMs, () => res.destroy(unreachable(req.url, `stalled for ${opts.timeoutMs} ms while sending ${u.pathname}`)));
      res.on('error', () => {}); // readers see it through iteration
      resolve({ status: res.statusCode ?? 0, headers: res.headers, url: req.url, body: res });
    });
    if (req.body === undefined) r.end();
    else if (Buffer.isBuffer(req.body)) r.end(req.body);
    else {
      req.body.on('error', (e) => r.destroy(e));
      req.body.pipe(r);
    }
  });
}

/** Reads a body up to `max` bytes; more is refused without reading it all. */
export async function readLimited(res: HttpResponse, max: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > max) {
    res.body.destroy();
    throw tooBig(res.url, what, max);
  }
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const chunk of res.body) {
      n += (chunk as Buffer).length;
      if (n > max) {
        res.body.destroy();
        throw tooBig(res.url, what, max);
      }
      chunks.push(chunk as Buffer);
    }
  } catch (e) {
    if (e instanceof ForkdError) throw e;
    throw unreachable(res.url, `broke off while sending ${what} (${(e as Error).message})`, e);
  }
  return Buffer.concat(chunks);
}

function tooBig(url: string, what: string, max: number): ForkdError {
  const host = safeHost(url);
  return new ForkdError('ERR_REGISTRY_PROTOCOL', `registry ${host} sent a ${what} larger than ${max} bytes, forkd's limit for it`, { field: 'ref', detail: { registry: host, max } });
}

export { unreachable, safeHost };
