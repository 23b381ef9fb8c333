// Everything the benchmark starts is named after its process: domains
// `forkd-test-bench-<pid>-…` (template, clones) and `forkd-vm-bench-<pid>-…`
// (cold-booted and restored VMs, named by VmManager), files under
// `<dataDir>/bench/work-<pid>/`. A sweep destroys what carries this pid's
// names; at start, a sweep also removes what earlier benchmark processes that
// are gone (killed, crashed) left. SIGINT/SIGTERM sweep before exiting.

import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Connection } from '../../native/libvirt/index.js';
import { processAlive } from '../../images/dir-lock.js';

export const FORK_PREFIX = 'forkd-test-bench-';
export const VM_ID_PREFIX = 'bench-';
export const VM_DOMAIN_PREFIX = `forkd-vm-${VM_ID_PREFIX}`;
const WORK_PREFIX = 'work-';

/** Name prefixes of one benchmark process. */
export function namesFor(pid: number): { forkPrefix: string; vmIdPrefix: string; vmDomainPrefix: string; workDirName: string } {
  return {
    forkPrefix: `${FORK_PREFIX}${pid}-`,
    vmIdPrefix: `${VM_ID_PREFIX}${pid}-`,
    vmDomainPrefix: `${VM_DOMAIN_PREFIX}${pid}-`,
    workDirName: `${WORK_PREFIX}${pid}`,
  };
}

/** The benchmark pid a domain or work directory name belongs to, or null when it is not a benchmark's. */
export function benchPidOf(name: string): number | null {
  for (const prefix of [FORK_PREFIX, VM_DOMAIN_PREFIX, WORK_PREFIX]) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d+)-?/.exec(name.slice(prefix.length));
    if (m) return Number(m[1]);
  }
  return null;
}


/** Destroys every domain whose name `pick` selects; returns their names. */
export async function destroyDomains(conn: Connection, pick: (name: string) => boolean): Promise<string[]> {
  const doms = await conn.listAllDomains();
  const gone: string[] = [];
  // 16 at a time: each destroy waits for its QEMU to exit, and a scaling run leaves 64.
  for (let i = 0; i < doms.length; i += 16) {
    await Promise.all(
      doms.slice(i, i + 16).map(async (d) => {
        try {
          if (pick(d.name)) {
            await d.destroy().catch(() => undefined);
            gone.push(d.name);
          }
        } finally {
          await d.free().catch(() => undefined);
        }
      }),
    );
  }
  return gone;
}

/** Domains and work directories of benchmark processes that no longer run. */
export async function sweepStale(conn: Connection, benchDir: string): Promise<{ domains: string[]; dirs: string[] }> {
  const stale = (name: string): boolean => {
    const pid = benchPidOf(name);
    return pid !== null && pid !== process.pid && !processAlive(pid);
  };
  const domains = await destroyDomains(conn, stale);
  const dirs: string[] = [];
  for (const name of await readdir(benchDir).catch(() => [] as string[])) {
    if (name.startsWith(WORK_PREFIX) && stale(name)) {
      await rm(join(benchDir, name), { recursive: true, force: true });
      dirs.push(name);
    }
  }
  return { domains, dirs };
}

/**
 * Cleanup actions run last-in first-out, each at most once, whether the run
 * ends, fails or is interrupted. `interrupted` turns true on SIGINT/SIGTERM so
 * loops can stop starting new work.
 */
export class BenchCleanup {
  readonly #actions: Array<{ what: string; fn: () => Promise<unknown> | unknown }> = [];
  #running: Promise<string[]> | null = null;
  interrupted = false;
  readonly #onSignal = (sig: NodeJS.Signals): void => {
    if (this.interrupted) {
      process.stderr.write(`bench: ${sig} again, exiting without finishing the cleanup\n`);
      process.exit(130);
    }
    this.interrupted = true;
    process.stderr.write(`bench: ${sig}, cleaning up (domains and files this run made)…\n`);
    void this.run().then((failed) => {
      for (const f of failed) process.stderr.write(`bench: cleanup step failed: ${f}\n`);
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  };

  push(what: string, fn: () => Promise<unknown> | unknown): void {
    this.#actions.push({ what, fn });
  }

  installSignalHandlers(): void {
    process.on('SIGINT', this.#onSignal);
    process.on('SIGTERM', this.#onSignal);
  }

  removeSignalHandlers(): void {
    process.off('SIGINT', this.#onSignal);
    process.off('SIGTERM', this.#onSignal);
  }

  /** Runs every action (once); returns what failed. */
  run(): Promise<string[]> {
    this.#running ??= (async () => {
      const failed: string[] = [];
      while (this.#actions.length > 0) {
        const a = this.#actions.pop()!;
        try {
          await a.fn();
        } catch (err) {
          failed.push(`${a.what}: ${(err as Error)?.message ?? String(err)}`);
        }
      }
      return failed;
    })();
    return this.#running;
  }
}
