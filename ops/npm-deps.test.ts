// ops/npm-deps.sh, as bootstrap.sh runs it, with a fake `npm` that records its
// calls: `npm ci` runs when node_modules is missing or was installed from
// another lock, and not again on a prepared checkout; a shared (linked)
// node_modules is never reinstalled from here.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../services/contracts/config.js';

let dir = '';
let calls = '';

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'forkd-npm-deps-'));
  calls = join(dir, 'npm-calls');
  mkdirSync(join(dir, 'ops'));
  mkdirSync(join(dir, 'fake-bin'));
  for (const f of ['ops/npm-deps.sh', 'ops/check-lock.mjs', 'package.json', 'package-lock.json']) copyFileSync(join(PACKAGE_ROOT, f), join(dir, f));
  // What `npm ci` leaves that the script looks at: node_modules/.bin.
  writeFileSync(join(dir, 'fake-bin', 'npm'), `#!/bin/sh\necho "$*" >> ${calls}\nrm -rf node_modules && mkdir -p node_modules/.bin\n`);
  chmodSync(join(dir, 'fake-bin', 'npm'), 0o755);
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

function npmDeps(): { status: number | null; out: string; npm: string[] } {
  const r = spawnSync('bash', [join(dir, 'ops', 'npm-deps.sh')], {
    cwd: dir, encoding: 'utf8', env: { PATH: `${join(dir, 'fake-bin')}:${process.env.PATH}` },
  });
  const npm = existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n') : [];
  rmSync(calls, { force: true });
  return { status: r.status, out: r.stdout + r.stderr, npm };
}

describe('ops/npm-deps.sh', () => {
  it('runs npm ci when node_modules is missing, then not again for the same lock', () => {
    const first = npmDeps();
    expect(first.status, first.out).toBe(0);
    expect(first.npm).toEqual(['ci --no-audit --no-fund --loglevel=error']);
    const stamp = readFileSync(join(dir, 'node_modules', '.forkd-lock-sha256'), 'utf8').trim();
    expect(stamp).toMatch(/^[0-9a-f]{64}$/);
    const again = npmDeps();
    expect(again.status, again.out).toBe(0);
    expect(again.npm).toEqual([]);
  });

  it('runs npm ci again once the lock changes, and for a node_modules with no record of its lock', () => {
    expect(npmDeps().npm).toHaveLength(1);
    const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8')) as unknown;
    writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(lock, null, 1)); // same content, another file: another hash
    expect(npmDeps().npm).toHaveLength(1);
    expect(npmDeps().npm).toHaveLength(0);
    rmSync(join(dir, 'node_modules', '.forkd-lock-sha256'));
    expect(npmDeps().npm).toHaveLength(1);
  });

  it('never reinstalls a node_modules linked from another checkout, and says so', () => {
    const other = join(dir, 'other-checkout-node_modules');
    mkdirSync(join(other, '.bin'), { recursive: true });
    symlinkSync(other, join(dir, 'node_modules'));
    const r = npmDeps();
    expect(r.status, r.out).toBe(0);
    expect(r.npm).toEqual([]);
    expect(r.out).toMatch(/not reinstalling it here/);
    expect(existsSync(join(other, '.bin'))).toBe(true);
  });

  it('refuses a lock out of step with package.json before installing anything', () => {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    pkg.dependencies['left-pad'] = '1.3.0';
    expect(npmDeps().status).toBe(0); // positive control: the untouched checkout installs
    rmSync(join(dir, 'node_modules'), { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg));
    const r = npmDeps();
    expect(r.status).toBe(1);
    expect(r.npm).toEqual([]);
    expect(r.out).toMatch(/left-pad/);
  });
});
