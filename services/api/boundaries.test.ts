import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)].map((m) => resolve(dirname(file), m[1]!)).filter((p) => p.startsWith(root));
}

describe('the API process', () => {
  it('never imports libvirt, hostd or the agent', () => {
    const offenders = sources(here).flatMap((f) => importsOf(f)
      .filter((target) => /\/(native|services\/hostd|services\/agent)\//.test(target + '/'))
      .map((target) => `${relative(root, f)} → ${relative(root, target)}`));
    expect(offenders).toEqual([]);
  });
});
