// One process timed as a user sees it: ms to its first stdout byte and to its
// exit. It must exit 0 with `expect` in its output; past `timeoutMs` it is
// killed (and so fails). Used by bench run for the forkd CLI and runsc alike.
import { spawn, type SpawnOptions } from 'node:child_process';

export function timedProcess(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; expect: string; timeoutMs: number; afterExit?: () => void }): Promise<[number, number]> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let first = NaN;
    let out = '';
    let err = '';
    const spawnOpts: SpawnOptions = { stdio: ['ignore', 'pipe', 'pipe'], ...(opts.env ? { env: opts.env } : {}) };
    const child = spawn(cmd, args, spawnOpts);
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.stdout!.on('data', (d: Buffer) => { if (Number.isNaN(first)) first = performance.now() - t0; out += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const total = performance.now() - t0;
      opts.afterExit?.();
      if (code !== 0 || !out.includes(opts.expect)) reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err.trim()}`));
      else resolve([first, total]);
    });
  });
}
