// Device state: the piece of the fork that saves and restores everything
// except RAM and disk. The template's RAM is a shared memory-backend-file and
// the migration capability x-ignore-shared leaves it out of the stream, so the
// state file holds only device state (hundreds of KB, not the guest's RAM).
//
// The stream goes through a file descriptor passed with getfd: libvirt starts
// QEMU under a seccomp sandbox that forbids spawning, so `exec:` URIs would
// kill QEMU, and a `file:` URI does not exist in QEMU 7.2.

import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { ForkdError } from '../../contracts/errors.js';
import type { Qmp } from './qmp.js';

export interface MigrationWaitOptions {
  timeoutMs?: number;
  /** First poll interval; it doubles up to 20 ms. */
  pollMs?: number;
}

interface MigrateStatus {
  status?: string;
  'error-desc'?: string;
}

const DONE = 'completed';
const FAILED = new Set(['failed', 'cancelled']);

async function setIgnoreShared(qmp: Qmp): Promise<void> {
  await qmp('migrate-set-capabilities', { capabilities: [{ capability: 'x-ignore-shared', state: true }] });
}

/** Opens `path`, hands the descriptor to QEMU under a fresh name, closes ours (QEMU holds its own copy). */
async function passFile(qmp: Qmp, path: string, flags: 'r' | 'w'): Promise<string> {
  const fdname = `forkd-state-${randomBytes(4).toString('hex')}`;
  const fh = await open(path, flags === 'w' ? 'w' : 'r', 0o600);
  try {
    await qmp('getfd', { fdname }, [fh.fd]);
  } finally {
    await fh.close();
  }
  return fdname;
}

async function waitForMigration(qmp: Qmp, what: string, opts: MigrationWaitOptions): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  let pollMs = opts.pollMs ?? 2;
  for (;;) {
    const st = (await qmp('query-migrate')) as MigrateStatus;
    if (st.status === DONE) return;
    if (st.status !== undefined && FAILED.has(st.status)) {
      throw new ForkdError('ERR_LIBVIRT', `${what} ${st.status}: ${st['error-desc'] ?? 'QEMU gave no reason'}`, { detail: { migration: st } });
    }
    if (Date.now() > deadline) throw new ForkdError('ERR_TIMEOUT', `${what} did not complete within ${timeoutMs} ms (status ${st.status ?? 'none'})`);
    await new Promise((r) => setTimeout(r, pollMs));
    pollMs = Math.min(pollMs * 2, 20);
  }
}

/**
 * Stops the guest and writes its device state to `statePath`. The guest stays
 * paused; the caller destroys the domain afterwards. The RAM must be a shared
 * file backend, or it ends up in the stream too.
 */
export async function saveDeviceState(qmp: Qmp, statePath: string, opts: MigrationWaitOptions = {}): Promise<void> {
  await qmp('stop');
  await setIgnoreShared(qmp);
  const fdname = await passFile(qmp, statePath, 'w');
  await qmp('migrate', { uri: `fd:${fdname}` });
  await waitForMigration(qmp, 'saving device state', opts);
  // QEMU closed its descriptor when the migration ended; make the file durable.
  const fh = await open(statePath, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Loads device state into a domain started with `-incoming defer` and RAM
 * mapped from the template's memory file. Leaves it paused: resume it with
 * virDomainResume so libvirt's view of the domain stays right.
 */
export async function loadDeviceState(qmp: Qmp, statePath: string, opts: MigrationWaitOptions = {}): Promise<void> {
  await setIgnoreShared(qmp);
  const fdname = await passFile(qmp, statePath, 'r');
  await qmp('migrate-incoming', { uri: `fd:${fdname}` });
  await waitForMigration(qmp, 'loading device state', opts);
}

/** loadDeviceState, then resume. */
export async function restoreDeviceState(
  qmp: Qmp,
  domain: { resume(): Promise<void> },
  statePath: string,
  opts: MigrationWaitOptions = {},
): Promise<void> {
  await loadDeviceState(qmp, statePath, opts);
  await domain.resume();
}
