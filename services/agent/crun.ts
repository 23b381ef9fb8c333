// The OCI runtime, crun, behind a few functions. crun's own messages go to a
// JSON log file (--log, --log-format=json) instead of stderr, so they never mix
// with the container's output and a failed start can quote crun exactly.

import { withOomScoreReset } from './protect.js';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentError } from '../contracts/agent-protocol/index.js';
import { spawnChild, type ChildLike, type StdioMode } from './posix-spawn.js';
import { run } from './run.js';

export interface CrunLogEntry {
  level: string;
  msg: string;
}

/** Parses crun's --log-format=json file; tolerates a plain-text message too. */
export function parseCrunLog(text: string): CrunLogEntry[] {
  const out: CrunLogEntry[] = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t) continue;
    try {
      const j = JSON.parse(t) as { level?: unknown; msg?: unknown };
      out.push({ level: typeof j.level === 'string' ? j.level : 'error', msg: typeof j.msg === 'string' ? j.msg : t });
    } catch {
      out.push({ level: 'error', msg: t });
    }
  }
  return out;
}

/** The error crun reported, if any (the last error-level line). */
export async function crunError(logFile: string): Promise<string | null> {
  const entries = parseCrunLog(await readFile(logFile, 'utf8').catch(() => ''));
  const errors = entries.filter((e) => e.level === 'error' || e.level === 'fatal');
  return errors.length > 0 ? errors[errors.length - 1]!.msg : null;
}

/**
 * The environment of every crun process. `_LIBCONTAINER_CLONED_BINARY` lets
 * crun skip re-executing itself from a private copy (its CVE-2019-5736 guard,
 * ~50 ms a call under TCG), but crun only trusts it when its own binary is on
 * a read-only mount, which it checks itself: the guest's init bind-mounts
 * /usr/bin/crun read-only (images/guest/scripts.ts). Anywhere else crun
 * protects itself as before. The container's processes get the spec's
 * environment, not this one.
 */
export const CRUN_ENV: NodeJS.ProcessEnv = { ...process.env, _LIBCONTAINER_CLONED_BINARY: '1' };

/** crun's state directory for a root caller without --root: one subdirectory per container it knows. */
export const CRUN_STATE_ROOT = '/run/crun';

export class Crun {
  constructor(readonly bin: string, private readonly stateRoot = CRUN_STATE_ROOT) {}

  private global(logFile: string): string[] {
    return [`--log=file:${logFile}`, '--log-format=json'];
  }

  /**
   * `crun run` in the foreground: crun waits for the container and exits with
   * its status. With `consoleSocket` (the spec's process.terminal is true) crun
   * sends the terminal's master there; the process's stdio is the terminal.
   * Otherwise its stdout/stderr are crun's pipes, and its stdin a pipe when `stdin`.
   */
  async run(id: string, bundle: string, logFile: string, pidFile: string, opts: { stdin?: boolean; consoleSocket?: string; extraFds?: readonly number[] } = {}): Promise<ChildLike> {
    await rm(logFile, { force: true });
    await rm(pidFile, { force: true });
    const consoleArgs = opts.consoleSocket ? ['--console-socket', opts.consoleSocket] : [];
    // Descriptors 3, 4, … of crun go on to the container's process (a held container's launcher).
    const extra = opts.extraFds ?? [];
    const preserve = extra.length > 0 ? [`--preserve-fds=${extra.length}`] : [];
    // Not at the agent's oom_score_adj -1000 (protect.ts): an OOM in the container must be able to kill it.
    return spawnChild(...withOomScoreReset(this.bin, [...this.global(logFile), 'run', '--bundle', bundle, '--pid-file', pidFile, ...preserve, ...consoleArgs, id]), {
      cwd: bundle,
      env: CRUN_ENV,
      stdio: [opts.stdin && !opts.consoleSocket ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      extraFds: extra,
    });
  }

  /** `crun exec` with a process.json; the caller owns the child's stdio (or the terminal from `consoleSocket`). */
  async exec(id: string, processFile: string, logFile: string, stdin: boolean, pidFile: string, consoleSocket?: string): Promise<ChildLike> {
    await rm(logFile, { force: true });
    const stdio: [StdioMode, StdioMode, StdioMode] = [stdin && !consoleSocket ? 'pipe' : 'ignore', 'pipe', 'pipe'];
    const consoleArgs = consoleSocket ? ['--console-socket', consoleSocket] : [];
    return spawnChild(...withOomScoreReset(this.bin, [...this.global(logFile), 'exec', '--process', processFile, '--pid-file', pidFile, ...consoleArgs, id]), { stdio, env: CRUN_ENV });
  }

  async kill(id: string, signal: string, logFile: string): Promise<string | null> {
    const r = await run(this.bin, [...this.global(logFile), 'kill', id, signal], { timeoutMs: 10_000, env: CRUN_ENV });
    return r.code === 0 ? null : ((await crunError(logFile)) ?? (r.stderr.trim() || `crun kill exited ${r.code}`));
  }

  /**
   * `crun delete --force` only when crun still has state for `id` (an earlier
   * start that failed half-way): a fresh container has none, and under TCG the
   * crun process this saves is ~100 ms of every start.
   */
  async deleteLeftover(id: string, logFile: string): Promise<void> {
    if (!existsSync(join(this.stateRoot, id))) return;
    await this.delete(id, logFile);
  }

  async delete(id: string, logFile: string): Promise<void> {
    await run(this.bin, [...this.global(logFile), 'delete', '--force', id], { timeoutMs: 10_000, env: CRUN_ENV }).catch(() => undefined);
  }

  async state(id: string): Promise<{ status: string; pid: number } | null> {
    const r = await run(this.bin, ['state', id], { timeoutMs: 10_000, env: CRUN_ENV }).catch(() => null);
    if (!r || r.code !== 0) return null;
    try {
      const j = JSON.parse(r.stdout) as { status?: string; pid?: number };
      return { status: String(j.status ?? 'unknown'), pid: Number(j.pid ?? 0) };
    } catch {
      return null;
    }
  }
}

/** The pid crun wrote to its --pid-file, or null while there is none. */
export async function readPid(file: string): Promise<number | null> {
  const t = await readFile(file, 'utf8').catch(() => '');
  const n = Number(t.trim());
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

/** Polls for crun's pid file; never settles once `gaveUp` is true (the other side of the race won). */
export async function waitForPid(file: string, signal: AbortSignal | null, gaveUp: () => boolean): Promise<number> {
  for (let delay = 5; ; delay = Math.min(delay * 2, 10)) {
    if (gaveUp()) return new Promise<number>(() => undefined);
    const pid = await readPid(file);
    if (pid !== null) return pid;
    if (signal?.aborted) throw new AgentError('ERR_CANCELLED', 'start cancelled');
    await sleep(delay);
  }
}
