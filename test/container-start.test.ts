// Create without start: forkd's own API makes the VM, imports the image and
// creates the container but leaves it waiting (what `docker create` needs);
// POST /v1/containers/:id/start starts it. One stack, one cold-booted VM.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxImage } from '../images/containers/builders/busybox.js';
import { settled, startStack, type Stack } from './harness.js';

let stack: Stack;
let work: string;
const json = { 'content-type': 'application/json' };

beforeAll(async () => {
  stack = await startStack({ name: 'cstart' });
  work = mkdtempSync(join(tmpdir(), 'forkd-test-cstart-'));
  const tar = join(work, 'busybox.tar');
  await buildBusyboxImage(tar, {});
  const { readFile } = await import('node:fs/promises');
  const up = await stack.api('/v1/images?tag=busybox:latest', { method: 'POST', body: await readFile(tar), headers: { 'content-type': 'application/x-tar' } });
  expect(up.status).toBe(201);
});

afterAll(async () => {
  await stack?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('start: false', () => {
  it('makes the container without starting it; start runs it; a second start answers it as it is', async () => {
    const res = await settled(stack, await stack.api('/v1/containers', {
      method: 'POST', headers: json, body: JSON.stringify({ image: 'busybox', command: ['sh', '-c', 'echo started; sleep 30'], start: false }),
    }));
    expect(res.status).toBe(202);
    const made = (await res.json()) as { id: string; state: string; startedAt: string | null };
    expect(made.state).toBe('created');
    expect(made.startedAt).toBeNull();
    // Still waiting when asked again (nothing started it behind our back).
    expect(((await (await stack.api(`/v1/containers/${made.id}`)).json()) as { state: string }).state).toBe('created');

    const started = await stack.api(`/v1/containers/${made.id}/start`, { method: 'POST' });
    expect(started.status).toBe(200);
    expect(((await started.json()) as { state: string }).state).toBe('running');
    const again = await stack.api(`/v1/containers/${made.id}/start`, { method: 'POST' });
    expect(again.status).toBe(200);

    const logs = await stack.api(`/v1/containers/${made.id}/logs`);
    expect(await logs.text()).toBe('started\n');
    expect((await stack.api(`/v1/containers/${made.id}?force=true`, { method: 'DELETE' })).status).toBe(200);
  });

  it('refuses to start a container that does not exist', async () => {
    const r = await stack.api('/v1/containers/nosuch/start', { method: 'POST' });
    expect(r.status).toBe(404);
  });
});
