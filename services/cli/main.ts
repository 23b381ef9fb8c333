// `forkd`: finds the command named by the first words of argv and runs it.
// Errors print as one line with their code and exit non-zero; `--help` works
// everywhere.
import { ForkdError } from '../contracts/errors.js';
import { parseCommandArgs, type Command } from './command.js';
import { COMMANDS } from './commands/index.js';

function findCommand(argv: string[]): { cmd: Command; rest: string[] } | undefined {
  let best: { cmd: Command; rest: string[] } | undefined;
  for (const cmd of COMMANDS) {
    if (cmd.path.every((w, i) => argv[i] === w) && (!best || cmd.path.length > best.cmd.path.length)) {
      best = { cmd, rest: argv.slice(cmd.path.length) };
    }
  }
  return best;
}

function usage(): string {
  const name = (c: (typeof COMMANDS)[number]) => `forkd ${c.path.join(' ')}`;
  const width = Math.max(...COMMANDS.map((c) => name(c).length));
  return [
    'forkd — containers in their own VMs, forked from warm templates',
    '',
    'usage: forkd <command> [options]   (forkd <command> --help for details)',
    '',
    ...COMMANDS.map((c) => `  ${name(c).padEnd(width)}  ${c.summary}`),
    '',
    'Environment: FORKD_URL, FORKD_API_KEY (client); see README for the server\'s variables.',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    process.stdout.write(usage() + '\n');
    return argv.length === 0 ? 2 : 0;
  }
  if (argv[0] === '--version' || argv[0] === 'version') {
    const { FORKD_VERSION } = await import('../contracts/version.js');
    process.stdout.write(FORKD_VERSION + '\n');
    return 0;
  }
  const found = findCommand(argv);
  if (!found) {
    // `forkd volume --help`: the group's commands, not "unknown command".
    const group = COMMANDS.filter((c) => c.path.length > 1 && c.path[0] === argv[0]);
    if (group.length > 0 && (argv[1] === '--help' || argv[1] === '-h')) {
      process.stdout.write(`${group.map((c) => `  forkd ${c.path.join(' ')}  ${c.summary}`).join('\n')}\n`);
      return 0;
    }
    process.stderr.write(`forkd: unknown command "${argv.join(' ')}"\n\n${usage()}\n`);
    return 2;
  }
  const args = parseCommandArgs(found.cmd, found.rest);
  if (args.values.help) {
    process.stdout.write(`usage: ${found.cmd.usage}\n\n${found.cmd.summary}\n`);
    return 0;
  }
  return found.cmd.run(args as Parameters<Command['run']>[0]);
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    if (err instanceof ForkdError) {
      process.stderr.write(`forkd: ${err.message} [${err.code}${err.field ? ` field=${err.field}` : ''}]\n`);
      process.exitCode = err.code === 'ERR_VALIDATION' ? 2 : 1;
    } else {
      process.stderr.write(`forkd: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
