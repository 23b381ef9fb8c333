// Following an operation (a create the API answered with 202): long-poll
// GET /v1/operations/:id until it ends, show its steps on stderr, and hand
// back its result or throw its error. A TTY gets one line that updates in
// place; a pipe or a log file gets one line per step.
import { ForkdError, isErrorCode } from '../contracts/errors.js';
import type { ApiClient } from './api-client.js';

export interface OperationView {
  id: string;
  kind: string;
  state: 'queued' | 'running' | 'succeeded' | 'failed';
  progress: { percent: number; step: string | null };
  targetId: string | null;
  updatedAt?: string;
  result?: unknown;
  error?: { code: string; message: string };
}

/** How long each long-poll may wait (the API allows up to 60 s). */
const WAIT_SEC = 30;
/** Polls that may fail in a row (an API restarting, a dropped connection) before giving up. */
const POLL_RETRIES = 3;

export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
}

/** Prints an operation's progress: one updating line on a TTY, else a line per new step. */
export class ProgressPrinter {
  private lastLine = '';
  private lastStep: string | null | undefined = undefined;
  private dirty = false;
  private silenced = false;

  constructor(private readonly out: ProgressOutput, private readonly label: string) {}

  show(op: Pick<OperationView, 'state' | 'progress'>): void {
    if (op.state === 'succeeded' || op.state === 'failed') return; // the caller says how it ended
    if (this.silenced) return;
    const step = op.progress.step ?? op.state;
    if (this.out.isTTY) {
      const line = `forkd: ${this.label}: ${step} (${op.progress.percent}%)`;
      if (line === this.lastLine) return;
      this.out.write(`\r\x1b[K${line}`);
      this.lastLine = line;
      this.dirty = true;
    } else if (step !== this.lastStep) {
      this.out.write(`forkd: ${this.label}: ${step} (${op.progress.percent}%)\n`);
    }
    this.lastStep = step;
  }

  /** Clears the updating line so what follows starts clean. */
  end(): void {
    if (this.dirty) this.out.write('\r\x1b[K');
    this.dirty = false;
  }

  /** Clears the line and shows no more steps: the container's own output has begun. */
  silence(): void {
    this.end();
    this.silenced = true;
  }
}

/** The operation's error as the ForkdError the CLI prints (`forkd: <message> [<code>]`). */
export function operationError(op: OperationView): ForkdError {
  const code = op.error && isErrorCode(op.error.code) ? op.error.code : 'ERR_INTERNAL';
  return new ForkdError(code, op.error?.message ?? `${op.kind} ${op.id} failed`, { detail: { operation: op.id } });
}

/** Follows `op` to its end; returns its result, or throws its error. */
export async function followOperation<T>(api: ApiClient, op: OperationView, printer: ProgressPrinter): Promise<T> {
  let current = op;
  let failures = 0;
  try {
    printer.show(current);
    while (current.state !== 'succeeded' && current.state !== 'failed') {
      try {
        const since = current.updatedAt ? `&since=${encodeURIComponent(current.updatedAt)}` : '';
        current = (await api.request<{ operation: OperationView }>('GET', `/v1/operations/${encodeURIComponent(op.id)}?waitSec=${WAIT_SEC}${since}`)).operation;
        failures = 0;
      } catch (err) {
        // The work goes on without us: a blip in reaching the API is retried, a real answer (404, 401) is not.
        if (!(err instanceof ForkdError) || err.code !== 'ERR_HOST_UNAVAILABLE' || ++failures > POLL_RETRIES) throw err;
        await new Promise((r) => setTimeout(r, 1000 * failures));
      }
      printer.show(current);
    }
  } finally {
    printer.end();
  }
  if (current.state === 'failed') throw operationError(current);
  return current.result as T;
}
