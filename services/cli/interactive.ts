// The CLI side of the exec and attach WebSockets (docs/interactive.md): this
// terminal's stdin to the process (its end is the half-close), the process's
// output to ours, and with a terminal: raw mode here, and SIGWINCH as a resize.
// Resolves with the process's exit code.
import { spawnSync } from 'node:child_process';
import { ForkdError, type ErrorBody } from '../contracts/errors.js';
import type { ApiClient } from './api-client.js';

export interface SocketOptions {
  /** Send this terminal's stdin (otherwise the process's stdin is closed at once). */
  stdin: boolean;
  /** The process has a terminal: raw mode on ours, and our size follows it. */
  tty: boolean;
}

/** This terminal's size, when stdout is one. */
export function terminalSize(): { rows: number; cols: number } | undefined {
  const { rows, columns } = process.stdout;
  return process.stdout.isTTY && rows > 0 && columns > 0 ? { rows, cols: columns } : undefined;
}

export async function runSocket(api: ApiClient, path: string, start: Record<string, unknown>, opts: SocketOptions): Promise<number> {
  // ws is loaded here, not at the top: every CLI command imports this module's
  // neighbours, and ws is ~40 ms of a CLI start that most commands never use.
  const { default: WebSocket } = await import('ws');
  const url = `${api.baseUrl.replace(/^http/, 'ws')}${path}`;
  const key = api.key;
  const ws = new WebSocket(url, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  const stdin = process.stdin;
  const raw = opts.tty && opts.stdin && stdin.isTTY;
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    if (raw) stdin.setRawMode(false);
    process.removeListener('SIGWINCH', onResize);
    stdin.removeListener('data', onData);
    stdin.removeListener('end', onEnd);
    stdin.pause();
  };
  const send = (data: Buffer | string, binary: boolean) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(data, { binary });
  };
  const onData = (d: Buffer) => send(d, true);
  const onEnd = () => send(JSON.stringify({ type: 'stdin-end' }), false);
  const onResize = () => {
    const size = terminalSize();
    if (size) send(JSON.stringify({ type: 'resize', ...size }), false);
  };
  return new Promise<number>((resolve, reject) => {
    let exitCode: number | null = null;
    let failure: ForkdError | null = null;
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => {
        try {
          reject(ForkdError.fromJSON(JSON.parse(body) as ErrorBody));
        } catch {
          reject(new ForkdError(res.statusCode === 401 ? 'ERR_UNAUTHORIZED' : 'ERR_VALIDATION', `refused: HTTP ${res.statusCode}`));
        }
      });
    });
    ws.on('open', () => {
      send(JSON.stringify({ type: 'start', ...start }), false);
      if (opts.tty) {
        process.on('SIGWINCH', onResize);
        onResize();
      }
      if (!opts.stdin) return;
      if (raw) {
        stdin.setRawMode(true);
        // libuv's raw mode keeps ONLCR: the container's terminal already made its \r\n, so ours must not add another \r.
        // setRawMode(false) restores the original settings, this included.
        spawnSync('stty', ['-opost'], { stdio: ['inherit', 'ignore', 'ignore'] });
      }
      stdin.on('data', onData);
      stdin.on('end', onEnd);
      stdin.resume();
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        (data[0] === 2 ? process.stderr : process.stdout).write(data.subarray(1));
        return;
      }
      const msg = JSON.parse(data.toString()) as { exit?: number; oomKilled?: boolean } & Partial<ErrorBody>;
      if (typeof msg.exit === 'number') {
        exitCode = msg.exit;
        if (msg.oomKilled) process.stderr.write('forkd: killed: out of memory\n');
      } else if (msg.error) {
        failure = ForkdError.fromJSON(msg as ErrorBody);
      }
    });
    ws.on('error', (err) => {
      restore();
      reject(new ForkdError('ERR_HOST_UNAVAILABLE', `connection failed: ${err.message}`));
    });
    ws.on('close', () => {
      restore();
      if (failure) reject(failure);
      else resolve(exitCode ?? 1);
    });
  });
}
