#!/usr/bin/env node
// Checks that package-lock.json is in sync with package.json and complete, so
// `npm ci` installs exactly what the lock says on every machine:
//  - the lock's root entry declares the same dependencies as package.json;
//  - every dependency and optional dependency of every locked package has a
//    locked entry where Node would resolve it, whatever the platform. npm only
//    writes the optional prebuilds of the platform it ran on unless asked, and
//    `npm ci` then refuses the lock elsewhere (issue 8: msgpackr-extract's
//    darwin/win32 entries were missing).
// Plain JavaScript: bootstrap.sh runs it before anything is installed or built.
// Fix a failure with `npm install --package-lock-only` (see README, Install).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const KINDS = ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies'];

/** Where Node resolves `name` from the package at `from` ('' is the root): the nearest node_modules up the path that the lock has. */
function resolveIn(packages, from, name) {
  let dir = from;
  for (;;) {
    const candidate = `${dir === '' ? '' : `${dir}/`}node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (dir === '') return null;
    const up = dir.lastIndexOf('/node_modules/');
    dir = up < 0 ? '' : dir.slice(0, up);
  }
}

/** What is wrong with the lock for this package.json; empty when `npm ci` can use it. */
export function lockProblems(pkg, lock) {
  const problems = [];
  if (lock.lockfileVersion < 2 || !lock.packages) return [`lockfileVersion ${lock.lockfileVersion} has no "packages" map; regenerate it with npm ≥ 7`];
  const root = lock.packages[''] ?? {};
  for (const kind of KINDS) {
    const want = pkg[kind] ?? {};
    const have = root[kind] ?? {};
    for (const name of new Set([...Object.keys(want), ...Object.keys(have)])) {
      if (want[name] !== have[name]) problems.push(`${kind}.${name}: package.json says ${want[name] ?? 'nothing'}, the lock ${have[name] ?? 'nothing'}`);
    }
  }
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (entry.link) continue;
    for (const kind of ['dependencies', 'optionalDependencies']) {
      if (path === '' && kind === 'dependencies') continue; // checked against package.json above, resolved below
      for (const name of Object.keys(entry[kind] ?? {})) {
        if (!resolveIn(lock.packages, path, name)) problems.push(`${path || 'the root'} needs ${name} (${kind}) but the lock has no entry for it`);
      }
    }
  }
  for (const kind of ['dependencies', 'devDependencies']) {
    for (const name of Object.keys(pkg[kind] ?? {})) {
      if (!lock.packages[`node_modules/${name}`]) problems.push(`${name} (${kind}) has no node_modules/${name} entry in the lock`);
    }
  }
  return problems;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const problems = lockProblems(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')), JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')));
  if (problems.length > 0) {
    process.stderr.write(`package-lock.json is not in sync with package.json or misses entries (${problems.length}):\n`);
    for (const p of problems.slice(0, 20)) process.stderr.write(`  ${p}\n`);
    process.stderr.write('Regenerate it with `npm install --package-lock-only` and commit it (README, Install).\n');
    process.exit(1);
  }
}
