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

// A test may build several worlds: every one is removed, not only the last.
const roots: string[] = [];
afterEach(() => { for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true }); });

type Rec = { forkPoint?: string; lastForkPoint?: { id: string; takenAt: string } };

async function world(templates: Record<string, string | null | { parent: string; diskBase: string }>, vmForkPoints: Array<string | Rec>, reuse?: { windowMs: number; maxDirtyMib: number }) {
  const root = mkdtempSync(join(tmpdir(), 'forkd-sweep-'));
  roots.push(root);
  const dirs = { templates: join(root, 'templates'), pool: join(root, 'pool') };
  for (const [id, parent] of Object.entries(templates)) {
    mkdirSync(join(dirs.templates, id), { recursive: true });
    await writeTemplateRecord(join(dirs.templates, id), {
      templateId: id, imageId: null, containers: [], poolSize: 0, buildMs: 0,
      ...(typeof parent === 'string' ? { origin: { containerId: 'c', vmId: 'v', parentTemplate: parent, takenAt: '' } } : {}),
      ...(parent !== null && typeof parent === 'object' ? { origin: { containerId: 'c', vmId: 'v', parentTemplate: parent.parent, takenAt: '', diskBase: parent.diskBase } } : {}),
    });
  }
  const registry = { dirs, delete: async (id: string) => { rmSync(join(dirs.templates, id), { recursive: true }); return true; } };
  const vms = { all: () => vmForkPoints.map((fp) => ({ record: typeof fp === 'string' ? { forkPoint: fp } : fp })) };
  const deps = { templates: registry as unknown as TemplateRegistry, vms: vms as unknown as VmManager, log: createLogger('error', {}), ...(reuse ? { reuse } : {}) };
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

  it('keeps a parent\'s last fork point while a fork may reuse it, and frees it after the window or without reuse', async () => {
    const fresh = { lastForkPoint: { id: 'fp-last', takenAt: new Date().toISOString() } };
    const old = { lastForkPoint: { id: 'fp-last', takenAt: new Date(Date.now() - 60_000).toISOString() } };
    const kept = await world({ base: null, 'fp-last': 'base' }, [fresh], { windowMs: 10_000, maxDirtyMib: 16 });
    expect(await sweepForkPoints(kept.deps)).toEqual([]);
    const expired = await world({ base: null, 'fp-last': 'base' }, [old], { windowMs: 10_000, maxDirtyMib: 16 });
    expect(await sweepForkPoints(expired.deps)).toEqual(['fp-last']);
    // hostd's start sweeps without the policy: a crashed hostd's last captures go unless a child uses them.
    const atStart = await world({ base: null, 'fp-last': 'base' }, [fresh]);
    expect(await sweepForkPoints(atStart.deps)).toEqual(['fp-last']);
  });

  it('frees the fork points under a flattened disk: its diskBase, not its parent, is what it needs', async () => {
    const w = await world({ base: null, 'fp-a': 'base', 'fp-b': { parent: 'fp-a', diskBase: 'base' } }, ['fp-b']);
    expect(await sweepForkPoints(w.deps)).toEqual(['fp-a']);
    expect(w.left()).toEqual(['base', 'fp-b']);
  });
});
