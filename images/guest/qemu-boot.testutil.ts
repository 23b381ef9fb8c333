// Test-only: boots a kernel under raw QEMU (TCG) and watches the serial console.
// Product code boots guests through libvirt; tests use a direct process so they
// need nothing but qemu-system-x86_64. Every QEMU started here is killed by pid.
import { spawn, type ChildProcess } from 'node:child_process';

export interface QemuBoot {
  readonly child: ChildProcess;
  readonly startedAt: number;
  /** Everything the guest printed on ttyS0 so far. */
  output(): string;
  /**
   * Resolves once `pattern` matches a complete console line, with the ms from
   * QEMU's start to when that line arrived; rejects on timeout or exit.
   */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<{ ms: number; match: RegExpMatchArray }>;
  /** Resolves with the exit code when QEMU exits. */
  readonly exited: Promise<number | null>;
  kill(): Promise<void>;
}

export function bootQemu(opts: { kernel: string; initrd: string; append: string; memMiB: number; extra?: string[] }): QemuBoot {
  const args = [
    '-accel', 'tcg', '-m', String(opts.memMiB), '-smp', '1', '-nographic', '-no-reboot',
    '-kernel', opts.kernel, '-initrd', opts.initrd, '-append', opts.append,
    ...(opts.extra ?? []),
  ];
  const startedAt = Date.now();
  const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let partial = '';
  const lines: { ms: number; text: string }[] = [];
  const listeners = new Set<() => void>();
  const onData = (c: Buffer): void => {
    const s = c.toString('utf8');
    out += s;
    const parts = (partial + s).split('\n');
    partial = parts.pop() ?? '';
    const ms = Date.now() - startedAt;
    for (const p of parts) lines.push({ ms, text: p.replace(/\r$/, '') });
    for (const l of listeners) l();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => {
      exitCode = code;
      for (const l of listeners) l();
      resolve(code);
    });
    child.on('error', (err) => {
      out += `\n[spawn error: ${err.message}]\n`;
      exitCode = null;
      for (const l of listeners) l();
      resolve(null);
    });
  });

  return {
    child,
    startedAt,
    output: () => out,
    exited,
    waitFor(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          for (const line of lines) {
            const m = line.text.match(pattern);
            if (m === null) continue;
            done();
            resolve({ ms: line.ms, match: m });
            return;
          }
          if (exitCode !== undefined) {
            done();
            reject(new Error(`QEMU exited (${exitCode}) before ${pattern}; console:\n${out.slice(-3000)}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no ${pattern} within ${timeoutMs} ms; console:\n${out.slice(-3000)}`));
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
    async kill() {
      if (exitCode === undefined && child.pid !== undefined) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}
