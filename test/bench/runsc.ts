// `bench run`'s reference row: the same busybox root filesystem run by gVisor's
// `runsc run` with the same command, timed like a `forkd run --rm` (process
// start to first stdout byte and to exit). runsc comes from Debian's package,
// installed by ops/bench-tools.sh when the bench starts (never by the product).
//
// What works on the development VM (Debian bookworm, runsc 0.0~20221219, root,
// nested without KVM): the default platform (ptrace in this release) with
// `--network=none` (the container needs no network; runsc's default sandbox
// network wants a veth set-up we do not need). `runsc run` deletes the
// container when it exits; each run has its own id and is deleted by id after.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { busyboxLayer } from '../../images/containers/builders/busybox.js';
import { PACKAGE_ROOT } from '../../services/contracts/config.js';
import { timedProcess } from './timed-process.js';

export const RUNSC_FLAGS = ['--network=none'];

/** Runs ops/bench-tools.sh (installs runsc where it can), then finds runsc on PATH; null when absent. */
export function ensureRunsc(): string | null {
  spawnSync('bash', [join(PACKAGE_ROOT, 'ops', 'bench-tools.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
  for (const d of (process.env.PATH ?? '').split(delimiter)) if (d && existsSync(join(d, 'runsc'))) return join(d, 'runsc');
  return null;
}

/** An OCI bundle in `dir`: busybox's root layer extracted, runsc's default spec with `command`, no terminal. */
export async function runscBundle(runsc: string, dir: string, command: readonly string[]): Promise<string> {
  const rootfs = join(dir, 'rootfs');
  await mkdir(rootfs, { recursive: true });
  const tar = join(dir, 'layer.tar');
  await writeFile(tar, await busyboxLayer());
  const x = spawnSync('tar', ['-xf', tar, '-C', rootfs]);
  if (x.status !== 0) throw new Error(`extracting busybox for runsc: ${x.stderr.toString()}`);
  const s = spawnSync(runsc, ['spec', '--', ...command], { cwd: dir });
  if (s.status !== 0) throw new Error(`runsc spec: ${s.stderr.toString()}`);
  return dir;
}

/** One `runsc run`: ms to its first stdout byte and to its exit. */
export function timedRunsc(runsc: string, bundle: string, id: string, expect: string): Promise<[number, number]> {
  return timedProcess(runsc, [...RUNSC_FLAGS, 'run', '--bundle', bundle, id], {
    expect, timeoutMs: 120_000,
    afterExit: () => { spawnSync(runsc, ['delete', '--force', id], { stdio: 'ignore' }); }, // normally gone already
  });
}
