// Small process helpers: run a command to completion with bounded output.
// Started with posix_spawn where the guest has koffi (posix-spawn.ts says why).

import { spawnChild, type SpawnChildOptions } from './posix-spawn.js';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const MAX_CAPTURE = 256 * 1024;

export function run(cmd: string, args: readonly string[], opts: Omit<SpawnChildOptions, 'stdio'> & { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawnChild(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => {
      if (stdout.length < MAX_CAPTURE) stdout += c.toString();
    });
    child.stderr!.on('data', (c: Buffer) => {
      if (stderr.length < MAX_CAPTURE) stderr += c.toString();
    });
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : null;
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(opts.input ?? '');
  });
}

/** Runs and throws with the command's stderr when it fails. */
export async function runOk(cmd: string, args: readonly string[], opts: Omit<SpawnChildOptions, 'stdio'> & { timeoutMs?: number } = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${(r.stderr || r.stdout).trim() || `exit ${r.code ?? r.signal}`}`);
  return r.stdout;
}
