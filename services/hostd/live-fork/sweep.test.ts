// Fork points go once nothing needs them: no VM forked from one, no template
// whose disk one backs; freeing one can free the one below it.
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../contracts/logger.js';
import type { TemplateRegistry } from '../templates/template-registry.js';
import { writeTemplateRecord } from '../templates/template-store.js';
import type { VmManager } from '../vm/vm-manager.js';
import { sweepForkPoints } from './live-forks.js';

let root = '';
afterEach(() => rmSync(root, { recursive: true, force: true }));

async function world(templates: Record<string, string | null>, vmForkPoints: string[]) {
  root = mkdtempSync(join(tmpdir(), 'forkd-sweep-'));
  const dirs = { templates: join(root, 'templates'), pool: join(root, 'pool') };
  for (const [id, parent] of Object.entries(templates)) {
    mkdirSync(join(dirs.templates, id), { recursive: true });
    await writeTemplateRecord(join(dirs.templates, id), {
      templateId: id, imageId: null, containers: [], poolSize: 0, buildMs: 0,
      ...(parent ? { origin: { containerId: 'c', vmId: 'v', parentTemplate: parent, takenAt: '' } } : {}),
    });
  }
  const registry = { dirs, delete: async (id: string) => { rmSync(join(dirs.templates, id), { recursive: true }); return true; } };
  const vms = { all: () => vmForkPoints.map((fp) => ({ record: { forkPoint: fp } })) };
  const deps = { templates: registry as unknown as TemplateRegistry, vms: vms as unknown as VmManager, log: createLogger('error', {}) };
  return { deps, left: () => readdirSync(dirs.templates).sort() };
}

describe('sweepForkPoints', () => {
  it('keeps fork points a VM or a template needs, and built templates', async () => {
    const w = await world({ base: null, 'fp-a': 'base', 'fp-b': 'fp-a', snap: 'fp-b' }, []);
    expect(await sweepForkPoints(w.deps)).toEqual([]);
    expect(w.left()).toEqual(['base', 'fp-a', 'fp-b', 'snap']);
  });

  it('removes unused ones, down the chain', async () => {
    const w = await world({ base: null, 'fp-a': 'base', 'fp-b': 'fp-a', 'fp-c': 'base' }, ['fp-c']);
    expect((await sweepForkPoints(w.deps)).sort()).toEqual(['fp-a', 'fp-b']);
    expect(w.left()).toEqual(['base', 'fp-c']);
  });
});
