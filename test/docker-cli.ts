// Test support for the Docker Engine API: the real docker CLI pointed at a
// stack's socket, and raw HTTP over that socket for what the CLI hides.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import { dirname, join } from 'node:path';
import { PACKAGE_ROOT } from '../services/contracts/config.js';

/** The real Docker clients on the PATH: `ops/test-clients.sh` installs what is missing (Debian's docker.io client, never its daemon; docker-compose; docker-py). */
export function ensureDockerCli(): void {
  execFileSync('bash', [join(PACKAGE_ROOT, 'ops', 'test-clients.sh')], { stdio: 'inherit' });
}

export interface DockerResult { code: number | null; stdout: string; stderr: string }

/** A docker client with a config directory of its own, beside `socket` (in the stack's data directory, so it goes with the stack), talking to `socket`. */
export function dockerClient(socket: string) {
  const config = mkdtempSync(join(dirname(socket), 'docker-config-'));
  /** `terminal`: run under a pseudo-terminal of that size (util-linux `script`), as a user at a terminal runs `docker -it`. */
  return (args: string[], opts: { timeoutMs?: number; input?: string | Buffer; env?: NodeJS.ProcessEnv; terminal?: { rows: number; cols: number } } = {}): Promise<DockerResult> => new Promise((resolve, reject) => {
    const t = opts.terminal;
    const [file, ...argv] = t ? ['script', '-qec', `stty rows ${t.rows} cols ${t.cols}; exec docker ${args.map(shellQuote).join(' ')}`, '/dev/null'] : ['docker', ...args];
    const child = spawn(file!, argv, {
      env: { PATH: process.env.PATH, HOME: config, DOCKER_CONFIG: config, DOCKER_HOST: `unix://${socket}`, DOCKER_CLI_HINTS: 'false', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000);
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
    child.stdin.end(opts.input ?? '');
  });
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export interface RawResponse { status: number; headers: IncomingHttpHeaders; body: string }

/** One HTTP request over the unix socket. */
export function rawRequest(socket: string, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, method, path, headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => { text += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
