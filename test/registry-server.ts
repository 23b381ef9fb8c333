// Test support: Debian's docker-registry (distribution 2.8) on a loopback
// port, with filesystem storage in a temp directory and optionally htpasswd
// (bcrypt, from `htpasswd -B`) auth. Started and stopped by the test; stop()
// kills it by pid. ops/test-clients.sh installs the package (never its service).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestRegistry {
  /** host:port on 127.0.0.1. */
  host: string;
  dir: string;
  /** With `tls`: the self-signed certificate (PEM) to trust. */
  ca?: string;
  proc: ChildProcess;
  /** SIGKILL, returning once its sockets are closed: for killing it from inside a progress callback. */
  killNow(): void;
  /** Starts it again on the same port and storage. */
  restart(): Promise<void>;
  /** Kills it by pid and removes its directory (unless `keep`). */
  stop(keep?: boolean): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startRegistry(opts: { users?: Record<string, string>; tls?: boolean } = {}): Promise<TestRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'forkd-registry-'));
  const port = await freePort();
  let tls = '';
  let ca: string | undefined;
  if (opts.tls) {
    const [cert, key] = [join(dir, 'cert.pem'), join(dir, 'key.pem')];
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=forkd-test-registry',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    tls = `  tls:\n    certificate: ${cert}\n    key: ${key}\n`;
    ca = readFileSync(cert, 'utf8');
  }
  let auth = '';
  if (opts.users) {
    const file = join(dir, 'htpasswd');
    writeFileSync(file, '');
    for (const [user, password] of Object.entries(opts.users)) execFileSync('htpasswd', ['-B', '-b', file, user, password], { stdio: 'ignore' });
    auth = `auth:\n  htpasswd:\n    realm: forkd-test\n    path: ${file}\n`;
  }
  const config = join(dir, 'config.yml');
  writeFileSync(config, `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n${tls}${auth}`);
  const reg: TestRegistry = {
    host: `127.0.0.1:${port}`, dir, proc: undefined as unknown as ChildProcess, ...(ca === undefined ? {} : { ca }),
    killNow() {
      const pid = reg.proc.pid!;
      reg.proc.kill('SIGKILL');
      // Synchronously until the kernel has closed its sockets (the process is a zombie or gone), so the next request is refused.
      for (let i = 0; i < 2000; i++) {
        let stat: string;
        try { stat = readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return; }
        if (/^\d+ \(.*\) Z/.test(stat)) return;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
      }
    },
    async restart() {
      await reg.stop(true);
      await spawnUntilReady();
    },
    async stop(keep = false) {
      const proc = reg.proc;
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGKILL');
        await exited;
      }
      if (!keep) rmSync(dir, { recursive: true, force: true });
    },
  };
  const spawnUntilReady = async (): Promise<void> => {
    const proc = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    reg.proc = proc;
    let stderr = '';
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => { if (stderr.length < 8192) stderr += d; });
    // Ready when /v2/ answers (200 anonymous, 401 with auth; TLS: the port accepts); bounded to ~10 s.
    for (let i = 0; i < 100; i++) {
      if (proc.exitCode !== null) break;
      const ok = opts.tls ? await tcpOpen(port) : await fetch(`http://127.0.0.1:${port}/v2/`).then((r) => r.status === 200 || r.status === 401, () => false);
      if (ok) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    await reg.stop();
    throw new Error(`docker-registry did not start: ${stderr}`);
  };
  await spawnUntilReady();
  return reg;
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}
