import { describe, expect, it } from 'vitest';
import type { EventPublisher, NewEvent } from '../../contracts/events/index.js';
import { ForkdError } from '../../contracts/errors.js';
import type { Logger } from '../../contracts/logger.js';
import type { ManagedVm } from '../vm/vm-manager.js';
import { ExitWatcher } from './exit-watcher.js';

const quiet = { warn: () => undefined, info: () => undefined, debug: () => undefined, error: () => undefined, child: () => quiet } as unknown as Logger;

function setup(answers: Array<() => Promise<unknown>>) {
  const published: NewEvent[] = [];
  let settle!: () => void;
  const done = new Promise<void>((r) => { settle = r; });
  const events = { publish: async (e: NewEvent) => { published.push(e); settle(); return '1-0'; } } as unknown as EventPublisher;
  let calls = 0;
  const vm = {
    vmId: 'vm1', state: 'running',
    agent: {
      call: async () => {
        const next = answers[calls++];
        if (!next) { settle(); return new Promise(() => {}); }
        try { return await next(); } finally { if (calls >= answers.length && answers.length > 0) setTimeout(settle, 10); }
      },
    },
  } as unknown as ManagedVm;
  return { published, done, vm, watcher: new ExitWatcher(events, quiet), calls: () => calls };
}

describe('ExitWatcher', () => {
  it('publishes die with the exit code and OOM flag when the wait answers', async () => {
    const s = setup([async () => ({ exitCode: 3, signal: null, oomKilled: true })]);
    s.watcher.watch(s.vm, { tenantId: 't1', containerId: 'c1', name: 'web', image: 'sha256:x' });
    await s.done;
    expect(s.published).toEqual([{
      type: 'container', action: 'die', tenantId: 't1',
      actor: { id: 'c1', name: 'web', attributes: { exitCode: '3', oomKilled: 'true', vmId: 'vm1', image: 'sha256:x' } },
    }]);
  });

  it('asks again when a wait slice runs out, and publishes once', async () => {
    const s = setup([
      async () => { throw new ForkdError('ERR_GUEST_TIMEOUT', 'slice over'); },
      async () => ({ exitCode: 0, signal: null, oomKilled: false }),
    ]);
    s.watcher.watch(s.vm, { tenantId: 't1', containerId: 'c1' });
    await s.done;
    expect(s.calls()).toBe(2);
    expect(s.published.map((e) => e.actor.attributes['exitCode'])).toEqual(['0']);
  });

  it('publishes nothing when the VM goes away (the agent closed), and watches a container once', async () => {
    const s = setup([async () => { (s.vm as { state: string }).state = 'stopping'; throw new ForkdError('ERR_GUEST', 'agent closed'); }]);
    s.watcher.watch(s.vm, { tenantId: 't1', containerId: 'c1' });
    s.watcher.watch(s.vm, { tenantId: 't1', containerId: 'c1' });
    await s.done;
    expect(s.calls()).toBe(1);
    expect(s.published).toEqual([]);
  });

  it('exitPublished settles once the die is published, so a wait answered after it orders die before a removal\'s destroy', async () => {
    let answer!: (r: unknown) => void;
    const s = setup([() => new Promise((r) => { answer = r; })]);
    s.watcher.watch(s.vm, { tenantId: 't1', containerId: 'c1' });
    let settled = false;
    const published = s.watcher.exitPublished('c1').then(() => { settled = true; });
    await new Promise((r) => setTimeout(r, 10));
    expect(settled).toBe(false);
    answer({ exitCode: 7, signal: null, oomKilled: false });
    await published;
    expect(s.published.map((e) => e.action)).toEqual(['die']);
  });

  it('exitPublished answers at once for a container no one watches, and gives up after its bound', async () => {
    const s = setup([() => new Promise(() => undefined)]);
    await s.watcher.exitPublished('never-watched');
    s.watcher.watch(s.vm, { tenantId: 't1', containerId: 'c1' });
    const t0 = Date.now();
    await s.watcher.exitPublished('c1', 20);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(15);
    expect(s.published).toEqual([]);
  });
});
