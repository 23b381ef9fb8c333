// The shared libraries a host binary needs, from `ldd`, so the rootfs can carry
// crun and node with exactly the libraries they link (no package manager in the guest).
import { ForkdError } from '../../services/contracts/errors.js';
import { exec } from './exec.js';

/** Parses `ldd` output into the absolute paths the loader will open (the guest uses the same paths). */
export function parseLdd(output: string): string[] {
  const libs: string[] = [];
  for (const raw of output.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('linux-vdso') || line.startsWith('linux-gate')) continue;
    if (line.includes('=> not found')) throw new ForkdError('ERR_CONFIG', `a library is missing on the host: ${line}`);
    const arrow = /=>\s*(\/\S+)/.exec(line);
    const direct = /^(\/\S+)\s+\(0x/.exec(line);
    const path = arrow?.[1] ?? direct?.[1];
    if (path !== undefined && !libs.includes(path)) libs.push(path);
  }
  return libs;
}

/** Libraries of `binary`; [] for a static binary. */
export async function sharedLibraries(binary: string): Promise<string[]> {
  const r = await exec('ldd', [binary], { allowFail: true });
  if (r.code !== 0) {
    if (/not a dynamic executable|statically linked/.test(r.stdout + r.stderr)) return [];
    throw new ForkdError('ERR_INTERNAL', `ldd ${binary} failed: ${r.stderr.trim()}`);
  }
  if (/statically linked/.test(r.stdout)) return [];
  return parseLdd(r.stdout);
}
