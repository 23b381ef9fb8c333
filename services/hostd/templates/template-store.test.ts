import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ForkdError } from '../../contracts/errors.js';
import { assertTemplateId, listTemplateIds, readTemplateRecord, templateDir, templateDirs, writeTemplateRecord } from './template-store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), 'forkd-tmplstore-'));
  dirs.push(d);
  return d;
}

describe('template ids', () => {
  it('accepts short lower-case ids and refuses what could not name a directory or domain', () => {
    for (const ok of ['busybox', 'bb-1', 'a', 'x_y-2']) expect(() => assertTemplateId(ok)).not.toThrow();
    for (const bad of ['', 'Busybox', '../x', '-a', 'a/b', 'a'.repeat(49), 'a b']) {
      expect(() => assertTemplateId(bad)).toThrow(ForkdError);
    }
  });
});

describe('the template record', () => {
  it('round-trips, and a missing or garbled one reads as null', async () => {
    const d = scratch();
    expect(await readTemplateRecord(d)).toBeNull();
    const rec = { templateId: 'bb', imageId: 'sha256:00', containers: ['c1'], poolSize: 2, buildMs: 1234 };
    await writeTemplateRecord(d, rec);
    expect(await readTemplateRecord(d)).toEqual(rec);
    writeFileSync(join(d, 'forkd.json'), '{"templateId": 3');
    expect(await readTemplateRecord(d)).toBeNull();
  });

  it('lists template directories under <dataDir>/templates by valid id only', async () => {
    const data = scratch();
    const t = templateDirs(data);
    expect(t).toEqual({ templates: join(data, 'templates'), pool: join(data, 'run', 'pool') });
    expect(await listTemplateIds(t)).toEqual([]);
    for (const id of ['b', 'a', 'Not-Valid']) mkdirSync(templateDir(t, id), { recursive: true });
    expect(await listTemplateIds(t)).toEqual(['a', 'b']);
  });
});
