// The CLI's HTTP client for the API. FORKD_URL and FORKD_API_KEY pick the
// server and key; by default the local server and the admin key in var/.
import { readFileSync } from 'node:fs';
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

  async request<T>(method: string, path: string, body?: unknown, init: { headers?: Record<string, string>; rawBody?: RequestInit['body']; signal?: AbortSignal } = {}): Promise<T> {
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
  async fetch(method: string, path: string, body?: unknown, init: { headers?: Record<string, string>; rawBody?: RequestInit['body']; signal?: AbortSignal } = {}): Promise<Response> {
    const headers: Record<string, string> = { ...init.headers };
    if (this.key) headers.authorization = `Bearer ${this.key}`;
    let payload: RequestInit['body'] | undefined = init.rawBody;
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    let res: Response;
    try {
      res = await fetch(this.baseUrl + path, { method, headers, ...(payload === undefined ? {} : { body: payload, duplex: 'half' }), ...(init.signal ? { signal: init.signal } : {}) } as RequestInit);
    } catch (err) {
      throw new ForkdError('ERR_HOST_UNAVAILABLE', `cannot reach the forkd API at ${this.baseUrl} (is \`forkd up\` running? FORKD_URL selects another): ${(err as Error).cause ?? (err as Error).message}`, { cause: err });
    }
    if (!res.ok && (res.headers.get('content-type') ?? '').includes('json')) {
      const text = await res.text();
      let parsed: unknown = text;
      try { parsed = JSON.parse(text); } catch { /* keep text */ }
      throw errorFromResponse(res.status, parsed);
    }
    return res;
  }
}

function errorFromResponse(status: number, body: unknown): ForkdError {
  const e = (body as ErrorBody | undefined)?.error;
  if (e && isErrorCode(e.code)) return ForkdError.fromJSON(body as ErrorBody);
  return new ForkdError(status === 401 ? 'ERR_UNAUTHORIZED' : status === 404 ? 'ERR_NOT_FOUND' : 'ERR_INTERNAL', `HTTP ${status}: ${typeof body === 'string' ? body : JSON.stringify(body)}`);
}
