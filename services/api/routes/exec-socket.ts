// The start messages of the exec and attach WebSockets (GET
// /v1/containers/:id/exec and /attach; the socket itself is
// interactive-socket.ts).
//
// The command and its environment (often secrets) never travel in the URL,
// which proxies and request logs record. The exec client's first text message
// says what to run:
//   {"type":"start","cmd":["sh"],"env":["K=V"],"workingDir":"/","user":"root","tty":true,"rows":24,"cols":80}
// (all but cmd optional; rows/cols only with tty). The attach client's:
//   {"type":"start","stdin":true,"logs":true,"stream":true}   (all optional)
import { ForkdError } from '../../contracts/errors.js';
import type { AttachOptions, ExecOptions } from '../attach/interactive.js';

export type ExecStart = ExecOptions;
const MAX_ITEMS = 1024;
const MAX_ITEM_CHARS = 32_768;

const invalid = (field: string, message: string) => new ForkdError('ERR_VALIDATION', message, { field });
/** Fields of the start message are named `start.<name>`, as body fields are `body.<name>`. */
const invalidStart = (name: string, message: string) => invalid(`start.${name}`, message);

/** The query of the old protocol (cmd and env in the URL) is refused, naming the field and where it goes now. */
export function refuseQueryArguments(query: unknown): void {
  const q = (query ?? {}) as Record<string, unknown>;
  for (const field of ['env', 'cmd', 'workingDir'] as const) {
    if (q[field] !== undefined) {
      throw invalid(`query.${field}`, `\`${field}\` is not accepted in the exec URL (URLs end up in logs): send it in the first WebSocket message, {"type":"start","cmd":[…],"env":[…]}`);
    }
  }
  const other = Object.keys(q)[0];
  if (other !== undefined) throw invalid(`query.${other}`, `unknown query parameter \`${other}\`: exec takes none; send {"type":"start",…} as the first message`);
}

function stringList(value: unknown, field: string, opts: { minItems: number; pattern?: RegExp }): string[] {
  if (!Array.isArray(value) || value.length < opts.minItems || value.length > MAX_ITEMS) {
    throw invalidStart(field, `\`${field}\` must be an array of ${opts.minItems}–${MAX_ITEMS} strings`);
  }
  for (const item of value) {
    if (typeof item !== 'string' || item.length > MAX_ITEM_CHARS) throw invalidStart(field, `\`${field}\` items must be strings of at most ${MAX_ITEM_CHARS} characters`);
    if (opts.pattern && !opts.pattern.test(item)) throw invalidStart(field, `\`${field}\` items must look like NAME=value`);
  }
  return value as string[];
}

/** Parses the start message; every fault names its field. */
export function parseStartMessage(text: string): ExecStart {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    throw invalidStart('type', 'the first message must be JSON: {"type":"start","cmd":[…]}');
  }
  if (typeof msg !== 'object' || msg === null || (msg as { type?: unknown }).type !== 'start') {
    throw invalidStart('type', 'the first message must be {"type":"start","cmd":[…]}');
  }
  const { cmd, env, workingDir, user, tty, rows, cols, ...rest } = msg as Record<string, unknown>;
  delete rest.type;
  const extra = Object.keys(rest)[0];
  if (extra !== undefined) throw invalidStart(extra, `unknown field \`${extra}\` in the start message`);
  const start: ExecStart = { cmd: stringList(cmd, 'cmd', { minItems: 1 }), stdin: true };
  if (user !== undefined) {
    if (typeof user !== 'string' || user.length < 1 || user.length > 256) throw invalidStart('user', '`user` must be a user name or uid[:gid]');
    start.user = user;
  }
  if (tty !== undefined) {
    if (typeof tty !== 'boolean') throw invalidStart('tty', '`tty` must be true or false');
    if (tty) start.tty = true;
  }
  if (rows !== undefined || cols !== undefined) {
    if (!start.tty) throw invalidStart(rows !== undefined ? 'rows' : 'cols', '`rows` and `cols` need `tty: true`');
    start.consoleSize = { rows: terminalSide(rows, 'rows'), cols: terminalSide(cols, 'cols') };
  }
  if (env !== undefined) start.env = stringList(env, 'env', { minItems: 0, pattern: /^[^=]+=/ });
  if (workingDir !== undefined) {
    if (typeof workingDir !== 'string' || !workingDir.startsWith('/') || workingDir.length > 4096) throw invalidStart('workingDir', '`workingDir` must be an absolute path');
    start.workingDir = workingDir;
  }
  return start;
}

function terminalSide(v: unknown, name: string): number {
  if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > 4096) throw invalidStart(name, `\`${name}\` must be an integer from 1 to 4096`);
  return v as number;
}

/** The attach socket's start message: which of stdin, the replay (`logs`) and live output (`stream`) the client wants. */
export function parseAttachStart(text: string): AttachOptions {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    throw invalidStart('type', 'the first message must be JSON: {"type":"start"}');
  }
  if (typeof msg !== 'object' || msg === null || (msg as { type?: unknown }).type !== 'start') throw invalidStart('type', 'the first message must be {"type":"start",…}');
  const { type: _type, ...rest } = msg as Record<string, unknown>;
  const out: AttachOptions = {};
  for (const [k, v] of Object.entries(rest)) {
    if (k !== 'stdin' && k !== 'logs' && k !== 'stream') throw invalidStart(k, `unknown field \`${k}\` in the start message`);
    if (typeof v !== 'boolean') throw invalidStart(k, `\`${k}\` must be true or false`);
    out[k] = v;
  }
  return out;
}
