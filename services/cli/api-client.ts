// The CLI's HTTP client for the API. FORKD_URL and FORKD_API_KEY pick the
// server and key; by default the local server and the admin key in var/.
import { readFileSync } from 'node:fs';
import type { Agent as HttpAgent, IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { dataPaths, loadConfig } from '../contracts/config.js';
import { ForkdError, isErrorCode, type ErrorBody } from '../contracts/errors.js';

export class ApiClient {
  constructor(readonly baseUrl: string, readonly key: string | undefined) {}

  static fromEnv(env: NodeJS.ProcessEnv = process.env): ApiClient {
    const config = loadConfig(env);
    const baseUrl = (env.FORKD_URL || `http://${config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host}:${config.listen.port}`).replace(/\/+$/, '');
    let key = env.FORKD_API_KEY;
    if (!key) {
      try {
        key = readFileSync(dataPaths(config.dataDir).adminKey, 'utf8').trim();
      } catch {
        key = undefined; // the server answers 401 with a message that says where the key lives
      }
    }
    return new ApiClient(baseUrl, key);
  }

  async request<T>(method: string, path: string, body?: unknown, init: RequestOptions = {}): Promise<T> {
    const res = await this.fetch(method, path, body, init);
    const text = await res.text();
    let parsed: unknown = undefined;
    if (text) {
      try { parsed = JSON.parse(text); } catch { parsed = text; }
    }
    if (!res.ok) throw errorFromResponse(res.status, parsed);
    return parsed as T;
  }

  /** The raw response, for streaming endpoints. Non-2xx answers still become ForkdErrors. */
  async fetch(method: string, path: string, body?: unknown, init: RequestOptions = {}): Promise<ApiResponse> {
    const headers: Record<string, string> = { ...init.headers };
    if (this.key) headers.authorization = `Bearer ${this.key}`;
    let payload: string | Readable | undefined = init.rawBody;
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    let res: ApiResponse;
    try {
      res = await send(new URL(this.baseUrl + path), method, headers, payload, init.signal);
    } catch (err) {
      if (init.signal?.aborted) throw err;
      throw new ForkdError('ERR_HOST_UNAVAILABLE', `cannot reach the forkd API at ${this.baseUrl} (is \`forkd up\` running? FORKD_URL selects another): ${(err as Error).message}`, { cause: err });
    }
    if (!res.ok && String(res.headers['content-type'] ?? '').includes('json')) {
      const text = await res.text();
      let parsed: unknown = text;
      try { parsed = JSON.parse(text); } catch { /* keep text */ }
      throw errorFromResponse(res.status, parsed);
    }
    return res;
  }
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** A body sent as is (an upload); `body` (JSON) wins when both are given. */
  rawBody?: string | Readable;
  signal?: AbortSignal;
}

/** An answer of the API: status, headers, and the body as it arrives. */
export interface ApiResponse {
  readonly status: number;
  readonly ok: boolean;
  readonly headers: IncomingHttpHeaders;
  readonly body: AsyncIterable<Buffer>;
  text(): Promise<string>;
}

// node:http, not fetch: Node 20 loads fetch's implementation (undici, with its
// WebAssembly parser) on first use, ~45-60 ms of every CLI command before its
// first request. One keep-alive agent: a command's requests (create, long-polls,
// logs, wait, delete) share a connection; idle sockets do not hold the process.
const agents = new Map<string, HttpAgent>();

async function send(url: URL, method: string, headers: Record<string, string>, payload: string | Readable | undefined, signal: AbortSignal | undefined): Promise<ApiResponse> {
  const tls = url.protocol === 'https:';
  const mod = tls ? await import('node:https') : await import('node:http');
  let agent = agents.get(url.protocol);
  if (!agent) agents.set(url.protocol, (agent = new mod.Agent({ keepAlive: true })));
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = mod.request(url, { method, headers, agent, ...(signal ? { signal } : {}) }, resolve);
    req.once('error', reject);
    if (payload === undefined) req.end();
    else if (typeof payload === 'string') req.end(payload);
    else {
      payload.once('error', (e) => req.destroy(e));
      payload.pipe(req);
    }
  });
  const status = res.statusCode ?? 0;
  return {
    status,
    ok: status >= 200 && status < 300,
    headers: res.headers,
    body: res,
    async text() {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
  };
}

function errorFromResponse(status: number, body: unknown): ForkdError {
  const e = (body as ErrorBody | undefined)?.error;
  if (e && isErrorCode(e.code)) return ForkdError.fromJSON(body as ErrorBody);
  return new ForkdError(status === 401 ? 'ERR_UNAUTHORIZED' : status === 404 ? 'ERR_NOT_FOUND' : 'ERR_INTERNAL', `HTTP ${status}: ${typeof body === 'string' ? body : JSON.stringify(body)}`);
}
