// Test support: a registry that misbehaves on purpose (corrupt blobs, a
// connection cut mid-blob, junk, huge or schema 1 manifests, silence), or
// fronts a real registry with Bearer token auth. A plain node:http server on
// loopback; what it serves is set per test.
import { createHash } from 'node:crypto';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export type Handler = (req: IncomingMessage, res: ServerResponse) => boolean | void;

export interface FakeRegistry {
  host: string;
  server: Server;
  /** Blobs and manifests by digest, manifests also by tag; content type per manifest. */
  blobs: Map<string, Buffer>;
  manifests: Map<string, { body: Buffer; type: string }>;
  /** Runs first; returning true means it answered. */
  intercept: Handler | undefined;
  hits: string[];
  close(): Promise<void>;
}

export async function startFakeRegistry(repo: string): Promise<FakeRegistry> {
  const fake: FakeRegistry = {
    host: '', server: undefined as unknown as Server, blobs: new Map(), manifests: new Map(), intercept: undefined, hits: [],
    close: () => new Promise((r) => { fake.server.closeAllConnections(); fake.server.close(() => r()); }),
  };
  fake.server = createServer((req, res) => {
    fake.hits.push(`${req.method} ${req.url}`);
    if (fake.intercept?.(req, res) === true) return;
    const url = req.url ?? '';
    if (url === '/v2/') return void res.writeHead(200).end('{}');
    const m = new RegExp(`^/v2/${repo}/(manifests|blobs)/([^/?]+)$`).exec(url);
    const notFound = (code: string) => res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code, message: 'unknown' }] }));
    if (!m) return void notFound('NAME_UNKNOWN');
    if (m[1] === 'manifests') {
      const man = fake.manifests.get(m[2]!);
      if (!man) return void notFound('MANIFEST_UNKNOWN');
      return void res.writeHead(200, { 'content-type': man.type, 'docker-content-digest': sha(man.body) }).end(man.body);
    }
    const blob = fake.blobs.get(m[2]!);
    if (!blob) return void notFound('BLOB_UNKNOWN');
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': blob.length }).end(blob);
  });
  await new Promise<void>((r) => fake.server.listen(0, '127.0.0.1', () => r()));
  fake.host = `127.0.0.1:${(fake.server.address() as { port: number }).port}`;
  return fake;
}

/**
 * A Bearer-token gate in front of a real registry: /v2/… without a valid
 * token gets 401 `WWW-Authenticate: Bearer realm=…/token,service=…,scope=…`;
 * /token hands out a token for the scope asked when the Basic credentials
 * match. Everything else is proxied to `upstream`.
 */
export async function startBearerGate(upstream: string, user: { username: string; password: string }): Promise<FakeRegistry & { tokens: string[] }> {
  const gate = (await startFakeRegistry('-none-')) as FakeRegistry & { tokens: string[] };
  gate.tokens = [];
  const basic = `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`;
  gate.intercept = (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/token') {
      if (req.headers.authorization !== basic) return void res.writeHead(401).end('{"details":"bad credentials"}'), true;
      const token = `tok-${gate.tokens.length}-${url.searchParams.get('scope')}`;
      gate.tokens.push(token);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, expires_in: 300 }));
      return true;
    }
    const auth = req.headers.authorization ?? '';
    if (!auth.startsWith('Bearer ') || !gate.tokens.includes(auth.slice(7))) {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${gate.host}/token",service="gate",scope="repository:x:pull"`, 'content-type': 'application/json' })
        .end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      return true;
    }
    const { authorization: _a, host: _h, ...headers } = req.headers;
    const up = request(`http://${upstream}${req.url}`, { method: req.method, headers }, (ur) => {
      const h = { ...ur.headers };
      if (typeof h.location === 'string') h.location = h.location.replace(upstream, gate.host);
      res.writeHead(ur.statusCode ?? 502, h);
      ur.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
    return true;
  };
  return gate;
}
