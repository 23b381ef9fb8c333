// The lock file check bootstrap.sh runs before installing: the committed lock
// passes; a lock missing another platform's optional prebuild, or out of step
// with package.json, fails with what to fix.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../services/contracts/config.js';
import { lockProblems } from './check-lock.mjs';

type Lock = { lockfileVersion: number; packages: Record<string, Record<string, unknown>> };
const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
const lock = (): Lock => JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package-lock.json'), 'utf8')) as Lock;

/** The committed lock less one entry another platform needs (what `npm install` on one platform used to leave). */
function withoutDarwinPrebuild(): Lock {
  const l = lock();
  const name = 'node_modules/@msgpackr-extract/msgpackr-extract-darwin-arm64';
  expect(l.packages[name]).toBeDefined();
  delete l.packages[name];
  return l;
}

describe('package-lock.json', () => {
  it('is in sync with package.json and has every platform\'s optional entries', () => {
    expect(lockProblems(pkg, lock())).toEqual([]);
  });

  it('a lock without another platform\'s optional prebuild is refused, by name', () => {
    expect(lockProblems(pkg, lock())).toEqual([]);
    expect(lockProblems(pkg, withoutDarwinPrebuild())).toEqual([
      'node_modules/msgpackr-extract needs @msgpackr-extract/msgpackr-extract-darwin-arm64 (optionalDependencies) but the lock has no entry for it',
    ]);
  });

  it('a dependency added to package.json but not to the lock is refused', () => {
    const added = { ...pkg, dependencies: { ...(pkg['dependencies'] as object), 'left-pad': '1.3.0' } };
    expect(lockProblems(pkg, lock())).toEqual([]);
    expect(lockProblems(added, lock())).toEqual([
      'dependencies.left-pad: package.json says 1.3.0, the lock nothing',
      'left-pad (dependencies) has no node_modules/left-pad entry in the lock',
    ]);
  });

  it('as bootstrap.sh runs it: exit 0 on the committed lock, 1 and the fix on an incomplete one', () => {
    execFileSync(process.execPath, [join(PACKAGE_ROOT, 'ops', 'check-lock.mjs')]);
    const dir = mkdtempSync(join(tmpdir(), 'forkd-lock-'));
    try {
      mkdirSync(join(dir, 'ops'));
      copyFileSync(join(PACKAGE_ROOT, 'ops', 'check-lock.mjs'), join(dir, 'ops', 'check-lock.mjs'));
      copyFileSync(join(PACKAGE_ROOT, 'package.json'), join(dir, 'package.json'));
      writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(withoutDarwinPrebuild()));
      const r = spawnSync(process.execPath, [join(dir, 'ops', 'check-lock.mjs')], { encoding: 'utf8' });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/msgpackr-extract-darwin-arm64/);
      expect(r.stderr).toMatch(/npm install --package-lock-only/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
