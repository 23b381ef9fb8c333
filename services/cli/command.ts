// What a CLI command is. Commands live one per file under commands/ and are
// listed once in commands/index.ts; main.ts only dispatches.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ForkdError } from '../contracts/errors.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

export interface Command {
  /** Words that select it: ['host', 'check'] for `forkd host check`. */
  path: string[];
  summary: string;
  usage: string;
  options: Options;
  /** Takes positional arguments (and everything after `--`). */
  positionals?: boolean;
  /** Returns the process exit code. */
  run(args: { values: Record<string, string | boolean | string[] | boolean[] | undefined>; positionals: string[] }): Promise<number>;
}

export const JSON_OPTION: Options = { json: { type: 'boolean', short: 'j' } };

export function parseCommandArgs(cmd: Command, argv: string[]) {
  try {
    return parseArgs({ args: argv, options: { ...cmd.options, help: { type: 'boolean', short: 'h' } }, allowPositionals: cmd.positionals ?? false, strict: true });
  } catch (err) {
    throw new ForkdError('ERR_VALIDATION', `${(err as Error).message}\nusage: ${cmd.usage}`);
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** A plain table: columns padded to their widest cell. */
export function printTable(headers: string[], rows: (string | number | null | undefined)[][]): void {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  for (const r of cells) process.stdout.write(r.map((c, i) => (i === r.length - 1 ? c : (c ?? '').padEnd(widths[i]!))).join('  ') + '\n');
}

/**
 * For commands that act on several named things (`forkd rm A B`): runs `act`
 * on each in turn and prints what it returns (the name by default). Naming
 * nothing is a usage error.
 */
export async function forEachTarget(cmd: Command, targets: string[], act: (target: string) => Promise<string | void>): Promise<number> {
  if (targets.length === 0) throw new ForkdError('ERR_VALIDATION', `usage: ${cmd.usage}`, { field: cmd.path.at(-1) ?? 'target' });
  for (const target of targets) process.stdout.write(`${(await act(target)) ?? target}\n`);
  return 0;
}
