// A take's identity and its tenant network (identifyClone with a GuestJoin):
// the guest's address rides in the take's own identity.set, and the tap joins
// the bridge beside it only when the clone's MAC is its own already (a ready
// clone); a shell's tap waits for identity.set, so no frame with the
// template's MAC ever reaches a bridge. Fakes stand in for QEMU and the agent:
// this is the ordering, not the VM.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Params, Result } from '../../contracts/agent-protocol/index.js';
import { identifyClone, type CloneShell, type ResumedClone } from './fork.js';
import type { ForkAgent } from './ports.js';

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: Error) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}
const flush = async (): Promise<void> => { for (let i = 0; i < 5; i++) await Promise.resolve(); };

const work = mkdtempSync(join(tmpdir(), 'forkd-identify-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const network = { interface: 'eth0', address: '10.89.1.2/24', gateway: '10.89.1.1', dns: [] };

function clone(events: string[], identityAnswer: Promise<Result<'identity.set'>>, ahead: boolean): ResumedClone<ForkAgent> {
  const shell = {
    identity: { id: 'abc', name: 'forkd-vm-abc', uuid: 'u', mac: '0a:f0:4d:00:00:01', machineId: '1'.repeat(32), hostname: 'vm-abc', entropy: 'AA==', genid: 'g' },
    network: { kind: 'tap' },
    tap: 'fkt-abc',
    releaseTap: async () => { events.push('tap removed'); },
    domain: { name: 'forkd-vm-abc', destroy: async () => { events.push('domain destroyed'); }, resume: async () => undefined, free: () => undefined },
    dir: mkdtempSync(join(work, 'vm-')),
    timings: { overlayMs: 0, domainStartMs: 0 },
  } as unknown as CloneShell;
  const agent = {
    call: (method: string, params: Params<'identity.set'>) => {
      events.push(`${method} ${Object.keys(params).sort().join(',')}`);
      return identityAnswer.then((r) => { events.push('identity.set answered'); return r; });
    },
    close: () => undefined,
  } as unknown as ForkAgent;
  return {
    shell, agent, timings: { incomingMs: 0, resumeMs: 0, agentReadyMs: 0 },
    ...(ahead ? { ahead: { applied: ['machineId', 'mac', 'entropy'], warnings: [] } } : {}),
  };
}

describe('a take joining its tenant network inside the fork', () => {
  it('a ready clone (its MAC set ahead): the tap joins the bridge while identity.set, carrying the address, runs', async () => {
    const events: string[] = [];
    const answer = deferred<Result<'identity.set'>>();
    const attach = deferred<void>();
    const done = identifyClone(clone(events, answer.promise, true), {
      join: { network, attachTap: (tap) => { events.push(`attach ${tap}`); return attach.promise; } },
    });
    await flush();
    expect(events).toEqual(['attach fkt-abc', 'identity.set clockEpochMs,hostname,network']);
    answer.resolve({ applied: ['hostname', 'network'], warnings: [] });
    await flush();
    attach.resolve();
    const vm = await done;
    expect(vm.identityResult?.applied).toEqual(['machineId', 'mac', 'entropy', 'hostname', 'network']);
  });

  it('a shell (still the template\'s MAC): the tap waits until identity.set has set the clone\'s own', async () => {
    const events: string[] = [];
    const answer = deferred<Result<'identity.set'>>();
    const done = identifyClone(clone(events, answer.promise, false), {
      join: { network, attachTap: async (tap) => { events.push(`attach ${tap}`); } },
    });
    await flush();
    expect(events).toEqual(['identity.set clockEpochMs,entropy,hostname,mac,machineId,network']);
    answer.resolve({ applied: ['hostname', 'machineId', 'mac', 'network', 'entropy', 'clock'], warnings: [] });
    await done;
    expect(events).toEqual(['identity.set clockEpochMs,entropy,hostname,mac,machineId,network', 'identity.set answered', 'attach fkt-abc']);
  });

  it('a failed identity.set destroys the clone only after the attach under way has finished, and reports the identity\'s error', async () => {
    const events: string[] = [];
    const answer = deferred<Result<'identity.set'>>();
    const attach = deferred<void>();
    const done = identifyClone(clone(events, answer.promise, true), {
      join: { network, attachTap: () => { events.push('attach fkt-abc'); return attach.promise; } },
    });
    done.catch(() => undefined);
    await flush();
    answer.reject(new Error('ERR_IO network: no such interface'));
    await flush();
    expect(events).not.toContain('domain destroyed');
    attach.resolve();
    await expect(done).rejects.toThrow(/no such interface/);
    expect(events.slice(-2)).toEqual(['domain destroyed', 'tap removed']);
  });
});
