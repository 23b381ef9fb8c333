// What fastify's request log may say about a request. Query strings carry
// values clients think of as arguments, and some have been secrets (the old
// exec WebSocket put env in them): the log gets the path and the query's
// parameter names, never its values. Headers are not logged at all (the API
// key is one).
import type { FastifyRequest } from 'fastify';

export interface LoggedRequest {
  [key: string]: unknown;
  method: string;
  url: string;
  queryKeys?: string[];
  hostname?: string;
  remoteAddress?: string;
}

/** `/a/b?x=1&y=2` → `{ url: '/a/b', queryKeys: ['x', 'y'] }`. */
export function redactUrl(url: string): { url: string; queryKeys?: string[] } {
  const q = url.indexOf('?');
  if (q < 0) return { url };
  const keys = [...new Set([...new URLSearchParams(url.slice(q + 1)).keys()])];
  return { url: url.slice(0, q), ...(keys.length ? { queryKeys: keys } : {}) };
}

export function serializeRequest(req: FastifyRequest): LoggedRequest {
  return {
    method: req.method,
    ...redactUrl(req.url),
    ...(req.hostname ? { hostname: req.hostname } : {}),
    ...(req.ip ? { remoteAddress: req.ip } : {}),
  };
}

/** The API's fastify `logger` options (server.ts); `stream` is for tests. */
export function apiLoggerOptions(level: string, stream?: { write(line: string): void }) {
  return { level, serializers: { req: serializeRequest }, ...(stream ? { stream } : {}) };
}
