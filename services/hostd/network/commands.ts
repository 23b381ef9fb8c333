// The only place hostd runs iproute2 and nftables. Both are driven in batch
// mode (one process per step, not per command) and, for a network's
// namespace, through `ip netns exec`, so every rule and address lands in the
// namespace it belongs to. Failures become ERR_HOST_NETWORK with the tool's
// own words.
import { spawn } from 'node:child_process';
import { ForkdError } from '../../contracts/errors.js';

async function run(argv: string[], stdin: string | null, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: [stdin === null ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    child.once('error', (e) => reject(new ForkdError('ERR_HOST_NETWORK', `${what}: cannot run ${argv[0]}: ${e.message}`, { cause: e })));
    child.once('close', (code) => {
      if (code === 0) resolve(out);
      else reject(new ForkdError('ERR_HOST_NETWORK', `${what}: ${argv[0]} failed: ${(err || out).trim().slice(0, 600)}`, { detail: { argv: argv.slice(0, 6) } }));
    });
    if (stdin !== null) {
      // A tool that exits early (bad first line) closes its stdin: its exit status is the error to report.
      child.stdin!.on('error', () => undefined);
      child.stdin!.end(stdin);
    }
  });
}

/** `ip` with `args`, in `netns` when given. */
export function ip(args: string[], what: string, netns?: string): Promise<string> {
  return run(netns ? ['ip', '-n', netns, ...args] : ['ip', ...args], null, what);
}

/** Several `ip` commands in one process (`ip -batch -`); it stops at the first that fails. */
export function ipBatch(lines: string[], what: string, netns?: string): Promise<string> {
  return run(netns ? ['ip', '-n', netns, '-batch', '-'] : ['ip', '-batch', '-'], lines.join('\n') + '\n', what);
}

/** Loads an nftables script atomically (all of it or nothing), in `netns` when given. */
export function nft(script: string, what: string, netns?: string): Promise<string> {
  return run(netns ? ['ip', 'netns', 'exec', netns, 'nft', '-f', '-'] : ['nft', '-f', '-'], script, what);
}

/** Writes a sysctl inside `netns` (or on the host). */
export function sysctl(key: string, value: string, what: string, netns?: string): Promise<string> {
  const argv = ['sysctl', '-q', '-w', `${key}=${value}`];
  return run(netns ? ['ip', 'netns', 'exec', netns, ...argv] : argv, null, what);
}
