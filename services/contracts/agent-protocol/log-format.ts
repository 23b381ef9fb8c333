// Container log lines, the CRI logging format (what Kubernetes' kubelet reads):
//
//   <RFC 3339 UTC timestamp> <stdout|stderr> <F|P> <text>\n
//
// F is a full line, P a partial one (a line longer than maxLineBytes, or output
// that ended without a newline); a reader joins P pieces up to the next F. The
// agent writes these lines to the container's log file and streams them as-is
// on `container.logs`; the host parses them with parseLogLine.

export type LogStream = 'stdout' | 'stderr';

export interface LogRecord {
  /** Epoch milliseconds. */
  time: number;
  stream: LogStream;
  partial: boolean;
  text: string;
}

export const MAX_LOG_LINE_BYTES = 16 * 1024;

export function formatLogLine(rec: LogRecord): string {
  return `${new Date(rec.time).toISOString()} ${rec.stream} ${rec.partial ? 'P' : 'F'} ${rec.text}\n`;
}

const LINE = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z) (stdout|stderr) ([FP]) (.*)$/s;

/** Parses one line (without its newline); null when the line is not in the format. */
export function parseLogLine(line: string): LogRecord | null {
  const m = LINE.exec(line);
  if (!m) return null;
  const time = Date.parse(m[1]!);
  if (!Number.isFinite(time)) return null;
  return { time, stream: m[2] as LogStream, partial: m[3] === 'P', text: m[4]! };
}

/**
 * Splits one output stream's bytes into log records: whole lines become F
 * records, over-long lines are cut into P records, and flush() emits what is
 * left without a newline as a P record. Bytes are decoded as UTF-8 per line.
 */
export class LogLineSplitter {
  private pending: Buffer[] = [];
  private pendingLength = 0;

  constructor(
    private readonly stream: LogStream,
    private readonly emit: (rec: LogRecord) => void,
    private readonly now: () => number = Date.now,
    private readonly maxLineBytes = MAX_LOG_LINE_BYTES,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl === -1 ? chunk.length : nl;
      let piece = chunk.subarray(start, end);
      while (this.pendingLength + piece.length > this.maxLineBytes) {
        const room = this.maxLineBytes - this.pendingLength;
        this.pending.push(piece.subarray(0, room));
        piece = piece.subarray(room);
        this.emitPending(true);
      }
      if (piece.length > 0) {
        this.pending.push(piece);
        this.pendingLength += piece.length;
      }
      if (nl === -1) break;
      this.emitPending(false);
      start = nl + 1;
    }
  }

  flush(): void {
    if (this.pendingLength > 0) this.emitPending(true);
  }

  /** The bytes of the line not yet complete (an attach replays them after the log file). */
  pendingBytes(): Buffer {
    return Buffer.concat(this.pending);
  }

  private emitPending(partial: boolean): void {
    const text = Buffer.concat(this.pending).toString('utf8');
    this.pending = [];
    this.pendingLength = 0;
    this.emit({ time: this.now(), stream: this.stream, partial, text });
  }
}
