// Running the host tools the builder needs (ldd, mke2fs, qemu-img, zstd) as child
// processes. Failures become ForkdErrors that name the command and carry its stderr.
import { execFile } from 'node:child_process';
import { ForkdError } from '../../services/contracts/errors.js';

export interface ExecResult {
  stdout: string;
  stderr: string;
}

/** Runs `cmd args…` to completion; rejects with ERR_CONFIG when the tool is missing. */
export function exec(cmd: string, args: readonly string[], opts: { cwd?: string; allowFail?: boolean } = {}): Promise<ExecResult & { code: number }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: opts.cwd, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err === null) {
        resolve({ stdout, stderr, code: 0 });
        return;
      }
      const e = err as NodeJS.ErrnoException & { code?: string | number };
      if (e.code === 'ENOENT') {
        reject(new ForkdError('ERR_CONFIG', `the guest image builder needs \`${cmd}\`, which is not installed (Debian: ${packageFor(cmd)})`, { cause: err }));
        return;
      }
      const code = typeof e.code === 'number' ? e.code : 1;
      if (opts.allowFail === true) {
        resolve({ stdout, stderr, code });
        return;
      }
      reject(new ForkdError('ERR_INTERNAL', `${cmd} ${args.join(' ')} failed (exit ${code}): ${stderr.trim().slice(-2000)}`, {
        detail: { command: cmd, args: [...args], exitCode: code },
        cause: err,
      }));
    });
  });
}

function packageFor(cmd: string): string {
  const pkgs: Record<string, string> = {
    mke2fs: 'e2fsprogs',
    cc: 'gcc and libc6-dev',
    'qemu-img': 'qemu-utils',
    zstd: 'zstd',
    ldd: 'libc-bin',
    busybox: 'busybox-static',
    crun: 'crun',
  };
  return pkgs[cmd] ?? `the package providing ${cmd}`;
}
