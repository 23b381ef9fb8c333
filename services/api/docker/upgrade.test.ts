import Fastify, { type FastifyInstance } from 'fastify';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hijack } from './hijack.js';
import { readStdin } from './stdin.js';
import { bodyOf, routeUpgrades } from './upgrade.js';

let app: FastifyInstance;
let port: number;

beforeAll(async () => {
  app = Fastify();
  routeUpgrades(app);
  // Answers with the body it was given, then echoes its stdin until the client's half-close.
  app.post('/echo', async (request, reply) => {
    const out = hijack(request, reply);
    const got: Buffer[] = [];
    readStdin(request, out, () => undefined).pipeTo({
      write: async (d) => { got.push(d); },
      endStdin: async () => { out.write(Buffer.from(`${JSON.stringify(bodyOf(request))}|${Buffer.concat(got).toString()}`)); out.end(); },
    });
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as { port: number }).port;
});

afterAll(async () => { await app.close(); });

/** An upgraded request whose body and stdin are written in the pieces given, then half-closed. */
function exchange(pieces: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', async () => {
      for (const p of pieces) {
        s.write(p);
        await new Promise((r) => setTimeout(r, 30)); // separate packets, as the CLI sends its exec start body
      }
      s.end();
    });
    let seen = '';
    s.on('data', (d: Buffer) => { seen += d.toString(); });
    s.on('end', () => resolve(seen.slice(seen.indexOf('\r\n\r\n') + 4)));
    s.on('error', reject);
  });
}

describe('an upgraded request', () => {
  const body = '{"Detach":false}\n';
  const headers = `POST /echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;

  it('keeps its body apart from stdin when both come with the headers', async () => {
    expect(await exchange([headers + body + 'a\nb\n'])).toBe('{"Detach":false}|a\nb\n');
  });

  it('keeps its body apart from stdin when the body comes in a packet of its own', async () => {
    expect(await exchange([headers, body, 'a\nb\n'])).toBe('{"Detach":false}|a\nb\n');
    expect(await exchange([headers, body.slice(0, 5), body.slice(5) + 'a\n', 'b\n'])).toBe('{"Detach":false}|a\nb\n');
  });
});
