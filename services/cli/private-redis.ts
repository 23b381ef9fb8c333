// With no REDIS_URL, `forkd up` runs its own redis-server on a unix socket under
// the data directory (no TCP port, so nothing else on the host can reach it)
// and stops it on exit. Tests use the same class for their private Redis.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { Redis } from 'ioredis';
import { ForkdError } from '../contracts/errors.js';

export class PrivateRedis {
  private child: ChildProcess | undefined;
  private stderr = '';

  constructor(
    readonly socketPath: string,
    private readonly dir: string,
  ) {}

  get url(): string {
    return `redis+unix://${this.socketPath}`;
  }

  /** Starts redis-server, or adopts one already answering on the socket (a second `forkd` process). */
  async start(timeoutMs = 10_000): Promise<void> {
    if (await pingSocket(this.socketPath)) return;
    mkdirSync(this.dir, { recursive: true });
    if (existsSync(this.socketPath)) rmSync(this.socketPath);
    const args = ['--port', '0', '--unixsocket', this.socketPath, '--unixsocketperm', '700', '--dir', this.dir,
      '--appendonly', 'yes', '--save', '', '--daemonize', 'no', '--loglevel', 'warning'];
    let child: ChildProcess;
    try {
      child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      throw new ForkdError('ERR_CONFIG', 'redis-server could not be started: is the redis-server package installed? (npm start installs it)', { cause: err });
    }
    this.child = child;
    child.stderr?.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-4000); });
    const exited = new Promise<never>((_, reject) => {
      child.once('error', (err) => reject(new ForkdError('ERR_CONFIG', `redis-server failed to start: ${err.message}`, { cause: err })));
      child.once('exit', (code) => reject(new ForkdError('ERR_CONFIG', `redis-server exited with ${code}: ${this.stderr.trim()}`)));
    });
    const deadline = Date.now() + timeoutMs;
    const ready = (async () => {
      while (Date.now() < deadline) {
        if (await pingSocket(this.socketPath)) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new ForkdError('ERR_CONFIG', `redis-server did not answer on ${this.socketPath} within ${timeoutMs} ms`);
    })();
    await Promise.race([ready, exited]);
    exited.catch(() => {}); // after start, an exit is reported through `exited` no more
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const gone = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await gone;
    clearTimeout(timer);
    this.child = undefined;
  }
}

async function pingSocket(path: string): Promise<boolean> {
  if (!existsSync(path)) return false;
  const client = new Redis({ path, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}
