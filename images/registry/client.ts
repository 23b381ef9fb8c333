// A Docker Registry HTTP API v2 / OCI distribution client for one repository:
// the auth dance (anonymous, Basic, Bearer token from the challenge's realm
// with the repository scope), manifests by tag or digest, blobs streamed, and
// the upload calls push needs. Errors are ForkdErrors naming the registry and
// what it said: ERR_REGISTRY_AUTH, ERR_MANIFEST_UNKNOWN, ERR_REGISTRY_UNREACHABLE,
// ERR_REGISTRY_PROTOCOL.

import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { ForkdError } from '../../services/contracts/errors.js';
import { parseChallenges, type Challenge } from './challenge.js';
import { readLimited, send, unreachable, type HttpOptions, type HttpResponse } from './http.js';
import { MANIFEST_ACCEPT } from './manifest.js';
import { apiHost, type Reference } from './reference.js';

export interface Credentials {
  username: string;
  password: string;
}

export interface RegistryOptions {
  /** Plain HTTP instead of HTTPS: an explicit opt-in per request. */
  insecure?: boolean;
  /** PEM CA bundle trusted for HTTPS registries (FORKD_REGISTRY_CA_FILE). */
  ca?: string;
  credentials?: Credentials;
  /** Bound on waiting for headers and between body bytes (FORKD_REGISTRY_TIMEOUT_MS). */
  timeoutMs?: number;
}

export const MAX_MANIFEST_BYTES = 4 * 2 ** 20;
const MAX_TOKEN_BYTES = 1 * 2 ** 20;
const MAX_ERROR_BYTES = 64 * 1024;

export interface FetchedManifest {
  body: Buffer;
  contentType: string | undefined;
  /** sha256 of the bytes received. */
  digest: string;
}

interface RequestOpts {
  headers?: Record<string, string>;
  body?: Buffer | Readable;
  /** Statuses handed back to the caller instead of turned into errors. */
  ok: number[];
  /** For messages: what is being fetched. */
  what: string;
}

export class RegistryClient {
  readonly host: string;
  readonly base: string;
  private authorization: string | undefined;
  private readonly http: HttpOptions;

  constructor(readonly ref: Reference, private readonly opts: RegistryOptions = {}, private readonly push = false) {
    this.host = apiHost(ref);
    this.base = `${opts.insecure === true ? 'http' : 'https'}://${this.host}`;
    this.http = { ca: opts.ca, timeoutMs: opts.timeoutMs ?? 30_000 };
  }

  private get scope(): string {
    return `repository:${this.ref.repository}:${this.push ? 'pull,push' : 'pull'}`;
  }

  private authError(message: string, status?: number): ForkdError {
    return new ForkdError('ERR_REGISTRY_AUTH', message, { field: 'ref', detail: { registry: this.ref.registry, ...(status === undefined ? {} : { status }) } });
  }

  /** Answers a 401 by getting credentials for the challenge (a token, or the Basic login); throws when there are none to get. */
  private async authenticate(res: HttpResponse): Promise<void> {
    const header = res.headers['www-authenticate'];
    const challenges = parseChallenges(Array.isArray(header) ? header.join(', ') : header);
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const creds = this.opts.credentials;
    if (bearer !== undefined) {
      this.authorization = `Bearer ${await this.token(bearer)}`;
      return;
    }
    if (challenges.some((c) => c.scheme === 'basic')) {
      if (creds === undefined) throw this.authError(`registry ${this.ref.registry} needs a login: forkd registry login ${this.ref.registry}`, 401);
      this.authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
      return;
    }
    throw this.authError(`registry ${this.ref.registry} answered 401 with no challenge forkd understands (${String(header ?? 'no WWW-Authenticate').slice(0, 120)})`, 401);
  }

  /** A token from the challenge's realm for this repository (with Basic credentials when stored). */
  private async token(c: Challenge): Promise<string> {
    const realm = c.params.realm;
    if (realm === undefined) throw this.authError(`registry ${this.ref.registry} sent a Bearer challenge without a realm`);
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw this.authError(`registry ${this.ref.registry} sent a Bearer realm that is not a URL: ${JSON.stringify(realm.slice(0, 120))}`);
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && this.opts.insecure === true)) {
      throw this.authError(`registry ${this.ref.registry} sends credentials to ${url.protocol}// token realm ${url.host}: only with --insecure`);
    }
    if (c.params.service !== undefined) url.searchParams.set('service', c.params.service);
    url.searchParams.set('scope', this.scope);
    const creds = this.opts.credentials;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (creds !== undefined) headers.authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    const res = await send({ method: 'GET', url: url.toString(), headers }, this.http);
    if (res.status === 401 || res.status === 403) {
      res.body.resume();
      throw this.authError(`token service ${url.host} refused ${creds === undefined ? 'anonymous access' : `user ${creds.username}`} to ${this.ref.repository} (${res.status})${creds === undefined ? `: forkd registry login ${this.ref.registry}` : ''}`, res.status);
    }
    const body = await readLimited(res, MAX_TOKEN_BYTES, 'token answer');
    if (res.status !== 200) throw new ForkdError('ERR_REGISTRY_PROTOCOL', `token service ${url.host} answered ${res.status}`, { field: 'ref' });
    let json: { token?: unknown; access_token?: unknown };
    try {
      json = JSON.parse(body.toString('utf8')) as typeof json;
    } catch {
      throw new ForkdError('ERR_REGISTRY_PROTOCOL', `token service ${url.host} answered with something that is not JSON`, { field: 'ref' });
    }
    const token = typeof json.token === 'string' ? json.token : json.access_token;
    if (typeof token !== 'string' || token.length === 0 || /[\r\n]/.test(token)) throw new ForkdError('ERR_REGISTRY_PROTOCOL', `token service ${url.host} answered without a token`, { field: 'ref' });
    return token;
  }

  /**
   * One registry call with auth: a 401 gets credentials once and is retried
   * (a streamed body cannot be replayed, so callers authenticate first with a
   * bodyless call). Unexpected statuses become ForkdErrors.
   */
  async request(method: string, path: string, o: RequestOpts): Promise<HttpResponse> {
    const url = path.startsWith('http') ? path : `${this.base}${path}`;
    for (let attempt = 0; ; attempt++) {
      const headers = { ...(o.headers ?? {}), ...(this.authorization === undefined ? {} : { authorization: this.authorization }) };
      const res = await send({ method, url, headers, ...(o.body === undefined ? {} : { body: o.body }) }, this.http);
      if (res.status === 401 && attempt === 0 && (o.body === undefined || Buffer.isBuffer(o.body))) {
        res.body.resume();
        await this.authenticate(res);
        continue;
      }
      if (o.ok.includes(res.status)) return res;
      throw await this.statusError(res, o.what);
    }
  }

  private async statusError(res: HttpResponse, what: string): Promise<ForkdError> {
    const said = await readLimited(res, MAX_ERROR_BYTES, 'error').then((b) => registrySays(b), () => '');
    const tail = said ? `: ${said}` : '';
    const detail = { registry: this.ref.registry, status: res.status };
    if (res.status === 401 || res.status === 403) {
      return this.authError(`registry ${this.ref.registry} refused ${what} (${res.status})${tail}${this.opts.credentials === undefined ? `; forkd registry login ${this.ref.registry}` : ''}`, res.status);
    }
    if (res.status === 404) return new ForkdError('ERR_MANIFEST_UNKNOWN', `registry ${this.ref.registry} has no ${what}${tail}`, { field: 'ref', detail });
    if (res.status >= 500 || res.status === 429) return unreachable(res.url, `answered ${res.status} to ${what}${tail}`);
    return new ForkdError('ERR_REGISTRY_PROTOCOL', `registry ${this.ref.registry} answered ${res.status} to ${what}${tail}`, { field: 'ref', detail });
  }

  /** GET /v2/ once: finds out early whether the registry answers and what auth it wants. */
  async ping(): Promise<void> {
    const res = await this.request('GET', '/v2/', { ok: [200, 401], what: 'the API version check' });
    res.body.resume();
  }

  async getManifest(reference: string): Promise<FetchedManifest> {
    const res = await this.request('GET', `/v2/${this.ref.repository}/manifests/${reference}`, {
      headers: { accept: MANIFEST_ACCEPT },
      ok: [200],
      what: `manifest ${this.ref.repository}:${reference}`,
    });
    const body = await readLimited(res, MAX_MANIFEST_BYTES, `manifest for ${this.ref.repository}`);
    const ct = res.headers['content-type'];
    return { body, contentType: ct, digest: `sha256:${createHash('sha256').update(body).digest('hex')}` };
  }

  /** The blob's response, for the caller to stream (and verify). */
  getBlob(digest: string): Promise<HttpResponse> {
    return this.request('GET', `/v2/${this.ref.repository}/blobs/${digest}`, { ok: [200], what: `blob ${digest}` });
  }

  async hasBlob(digest: string): Promise<boolean> {
    const res = await this.request('HEAD', `/v2/${this.ref.repository}/blobs/${digest}`, { ok: [200, 404], what: `blob ${digest}` });
    res.body.resume();
    return res.status === 200;
  }

  /**
   * Uploads a blob: POST opens the session (and authenticates, so the
   * streamed PATCH is not answered 401), PATCH streams the bytes, PUT with
   * the digest closes it. A Buffer goes monolithically in the PUT.
   */
  async uploadBlob(digest: string, size: number, body: Buffer | (() => Readable)): Promise<void> {
    const start = await this.request('POST', `/v2/${this.ref.repository}/blobs/uploads/`, { headers: { 'content-length': '0' }, ok: [202], what: 'a blob upload' });
    start.body.resume();
    let location = this.location(start, 'blob upload');
    if (!Buffer.isBuffer(body)) {
      const patched = await this.request('PATCH', location, {
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(size), 'content-range': `0-${Math.max(0, size - 1)}` },
        body: body(),
        ok: [202],
        what: `the upload of ${digest}`,
      });
      patched.body.resume();
      location = this.location(patched, 'blob upload');
    }
    const put = new URL(location);
    put.searchParams.set('digest', digest);
    const done = await this.request('PUT', put.toString(), {
      headers: { 'content-type': 'application/octet-stream', ...(Buffer.isBuffer(body) ? {} : { 'content-length': '0' }) },
      body: Buffer.isBuffer(body) ? body : Buffer.alloc(0),
      ok: [201, 204],
      what: `the upload of ${digest}`,
    });
    done.body.resume();
  }

  async putManifest(reference: string, mediaType: string, body: Buffer): Promise<string> {
    const res = await this.request('PUT', `/v2/${this.ref.repository}/manifests/${reference}`, {
      headers: { 'content-type': mediaType },
      body,
      ok: [201, 200, 202],
      what: `manifest ${this.ref.repository}:${reference}`,
    });
    res.body.resume();
    return `sha256:${createHash('sha256').update(body).digest('hex')}`;
  }

  private location(res: HttpResponse, what: string): string {
    const loc = res.headers.location;
    if (typeof loc !== 'string' || loc.length === 0) throw new ForkdError('ERR_REGISTRY_PROTOCOL', `registry ${this.ref.registry} opened a ${what} without a Location`, { field: 'ref' });
    return new URL(loc, this.base).toString();
  }
}

/** The registry's own error text ({"errors":[{"code","message"}]}), short. */
function registrySays(body: Buffer): string {
  try {
    const json = JSON.parse(body.toString('utf8')) as { errors?: Array<{ code?: unknown; message?: unknown }> };
    const first = json.errors?.[0];
    if (first !== undefined) return `${String(first.code ?? '')} ${String(first.message ?? '')}`.trim().slice(0, 200);
  } catch {
    // not JSON: no words from the registry
  }
  return '';
}
