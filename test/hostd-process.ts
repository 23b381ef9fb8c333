// Test support for crash tests: hostd as a process of its own (so it can be
// SIGKILLed) on a stack started with `hostd: false`, and waiting for the API
// to see its host up or down.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../services/contracts/config.js';
import type { Stack } from './harness.js';

export function startHostdProcess(stack: Pick<Stack, 'env'>): ChildProcess {
  const child = spawn(process.execPath, [join(PACKAGE_ROOT, 'bin', 'forkd.js'), 'hostd'], {
    env: { PATH: process.env.PATH, ...stack.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.on('data', () => {});
  return child;
}

export async function waitForHost(stack: Pick<Stack, 'api' | 'config'>, state: 'up' | 'down'): Promise<void> {
  for (let i = 0; i < 240; i++) {
    const info = (await (await stack.api('/v1/info')).json()) as { hosts: { hostId: string; state: string }[] };
    if (info.hosts.some((h) => h.hostId === stack.config.hostId && h.state === state)) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`host never became ${state}`);
}
