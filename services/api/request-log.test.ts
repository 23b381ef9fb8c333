import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { apiLoggerOptions, redactUrl } from './request-log.js';

/** Every line fastify logs while answering one request to `url`. */
async function logLines(logger: object, url: string): Promise<string> {
  const app = Fastify({ logger });
  app.get('/v1/containers/:id/exec', async () => ({ ok: true }));
  const res = await app.inject({ method: 'GET', url });
  expect(res.statusCode).toBe(200);
  await app.close();
  return (logger as { stream: { lines: string[] } }).stream.lines.join('');
}

function capture() {
  const lines: string[] = [];
  return { lines, write: (line: string) => void lines.push(line) };
}

describe('request logging', () => {
  const url = '/v1/containers/c1/exec?cmd=sh&env=DB_PASSWORD%3Dhunter2&env=B%3D2';

  it('logs the path and the query parameter names, never their values', async () => {
    const stream = capture();
    const logged = await logLines(apiLoggerOptions('info', stream), url);
    expect(logged).toContain('"url":"/v1/containers/c1/exec"');
    expect(logged).toContain('"queryKeys":["cmd","env"]');
    expect(logged).not.toContain('hunter2');
    expect(logged).not.toContain('DB_PASSWORD');
    // Control: fastify's own serializer, same request, does write the secret.
    const plain = capture();
    expect(await logLines({ level: 'info', stream: plain }, url)).toContain('hunter2');
  });

  it('keeps URLs without a query as they are', () => {
    expect(redactUrl('/v1/containers')).toEqual({ url: '/v1/containers' });
    expect(redactUrl('/v1/containers?')).toEqual({ url: '/v1/containers' });
    expect(redactUrl('/v1/x?a=1&a=2&b')).toEqual({ url: '/v1/x', queryKeys: ['a', 'b'] });
  });
});
