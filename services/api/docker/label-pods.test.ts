import { describe, expect, it } from 'vitest';
import { ForkdError } from '../../contracts/errors.js';
import type { Actor } from '../tenancy/policy.js';
import type { DockerContext } from './context.js';
import { ensureLabelPod, removeDockerContainer } from './label-pods.js';

interface FakePod { id: string; name: string; state: string; byDocker: boolean; containers: string[] }

/** Pods, containers and operations in memory: a create's pod runs once its operation is read. */
function fake(pods: FakePod[], opts: { nameTakenOnce?: boolean } = {}) {
  const made: Array<{ body: Record<string, unknown>; byDocker: boolean | undefined }> = [];
  const removed: string[] = [];
  const ops = new Map<string, FakePod>();
  let taken = opts.nameTakenOnce ?? false;
  const find = (ref: string) => pods.find((p) => p.id === ref || p.name === ref);
  const services = {
    config: { dockerPod: { memoryMib: 384, vcpus: 1 } },
    pods: {
      row: async (_t: string, ref: string) => {
        const p = find(ref);
        if (!p) throw new ForkdError('ERR_NOT_FOUND', `no pod ${ref}`, { field: 'pod' });
        return p;
      },
      create: async (_a: Actor, body: Record<string, unknown>, o: { byDocker?: boolean }) => {
        if (taken) {
          // Another create took the name: its pod appears, still being made, then runs.
          taken = false;
          const other: FakePod = { id: 'other', name: body.name as string, state: 'creating', byDocker: true, containers: [] };
          pods.push(other);
          setTimeout(() => { other.state = 'running'; }, 50);
          throw new ForkdError('ERR_CONFLICT', 'a pod named that exists', { field: 'name' });
        }
        made.push({ body, byDocker: o.byDocker });
        const pod: FakePod = { id: `p${made.length}`, name: body.name as string, state: 'creating', byDocker: o.byDocker === true, containers: [] };
        pods.push(pod);
        ops.set(`op${made.length}`, pod);
        return { id: `op${made.length}`, state: 'running', updatedAt: 'x' };
      },
      remove: async (_t: string, id: string, force: boolean) => {
        expect(force).toBe(false);
        removed.push(id);
        pods.splice(pods.findIndex((p) => p.id === id), 1);
      },
    },
    operations: {
      get: async (_t: string, id: string) => {
        ops.get(id)!.state = 'running';
        return { id, state: 'succeeded', updatedAt: 'y' };
      },
    },
    containers: {
      remove: async (_t: string, id: string) => {
        for (const p of pods) p.containers = p.containers.filter((c) => c !== id);
      },
    },
    db: {
      container: { findUnique: async ({ where }: { where: { id: string } }) => ({ podId: pods.find((p) => p.containers.includes(where.id))?.id ?? null }) },
      pod: { findFirst: async ({ where }: { where: { id: string } }) => { const p = find(where.id); return p ? { byDocker: p.byDocker, state: p.state, _count: { containers: p.containers.length } } : null; } },
    },
  };
  return { ctx: { services } as unknown as DockerContext, made, removed };
}

const actor = { tenantId: 't1' } as Actor;
const warn = () => undefined;

describe('a Docker create labelled io.forkd.pod', () => {
  it('makes the pod it names when there is none: sized from config, on the create\'s network, marked byDocker', async () => {
    const f = fake([]);
    await ensureLabelPod(f.ctx, actor, 'app-pod', 'app_default');
    expect(f.made).toEqual([{ body: { name: 'app-pod', memoryMib: 384, vcpus: 1, network: 'app_default' }, byDocker: true }]);
    // The next container of the project finds it running: nothing more is made.
    await ensureLabelPod(f.ctx, actor, 'app-pod', 'app_default');
    expect(f.made).toHaveLength(1);
  });

  it('uses a pod that exists (the user\'s) without making one', async () => {
    const f = fake([{ id: 'u1', name: 'mine', state: 'running', byDocker: false, containers: [] }]);
    await ensureLabelPod(f.ctx, actor, 'mine', undefined);
    expect(f.made).toEqual([]);
  });

  it('waits for the pod another create is making instead of making a second', async () => {
    const f = fake([], { nameTakenOnce: true });
    await ensureLabelPod(f.ctx, actor, 'app-pod', undefined);
    expect(f.made).toEqual([]);
  });
});

describe('a Docker remove of a pod\'s container', () => {
  it('removes the pod the Docker API made with its last container, not before', async () => {
    const f = fake([{ id: 'd1', name: 'app-pod', state: 'running', byDocker: true, containers: ['c1', 'c2'] }]);
    await removeDockerContainer(f.ctx, 't1', 'c1', warn);
    expect(f.removed).toEqual([]);
    await removeDockerContainer(f.ctx, 't1', 'c2', warn);
    expect(f.removed).toEqual(['d1']);
  });

  it('leaves a pod the user made, empty', async () => {
    const f = fake([{ id: 'u1', name: 'mine', state: 'running', byDocker: false, containers: ['c1'] }]);
    await removeDockerContainer(f.ctx, 't1', 'c1', warn);
    expect(f.removed).toEqual([]);
  });
});
