// The bundled agent as a process: esbuild bundles main.ts (as the guest image
// does), the bundle runs with FORKD_AGENT_SOCKET, and the real client talks to it.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { AgentClient } from '../hostd/agent/agent-client.js';

const here = dirname(fileURLToPath(import.meta.url));

describe('agent bundle', () => {
  it('runs from one esbuild file and serves a unix socket in test mode', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forkd-agent-bundle-'));
    const out = join(dir, 'agent.mjs');
    await build({ entryPoints: [join(here, 'main.ts')], outfile: out, bundle: true, platform: 'node', format: 'esm', target: 'node20', logLevel: 'silent' });
    const sock = join(dir, 'agent.sock');
    const child = spawn(process.execPath, [out], {
      env: { ...process.env, FORKD_AGENT_SOCKET: sock, FORKD_AGENT_ROOT: join(dir, 'state'), FORKD_AGENT_SYSTEM: '0', FORKD_AGENT_ETC: dir },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const client = new AgentClient(sock, { attemptTimeoutMs: 500 });
    try {
      const ready = await client.waitReady({ timeoutMs: 10_000 });
      expect(ready.agentVersion).toMatch(/^forkd-agent\//);
      expect((await client.call('image.list', {})).images).toEqual([]);
      expect(existsSync(join(dir, 'state/layers/sha256'))).toBe(true);
    } finally {
      client.close();
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    }
    expect(stderr).toMatch(/listening/);
    expect(existsSync(sock)).toBe(false);
  });
});
