// CLI: builds (or finds, when nothing changed) the guest image and the
// accelerator probe image, prints progress on stderr and the result as JSON on
// stdout. `forkd image build` runs the same function.
//
//   node dist/images/guest/main.js [--data-dir DIR] [--agent FILE] [--root-size MIB]
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { PACKAGE_ROOT, loadConfig } from '../../services/contracts/config.js';
import { ForkdError } from '../../services/contracts/errors.js';
import { buildGuestImage, DEFAULT_ROOT_SIZE_MIB, type GuestImage } from './build.js';
import { buildProbeImage, type ProbeImage } from './probe.js';

export const USAGE = 'forkd image build [--data-dir DIR] [--agent FILE] [--root-size MIB]';

/** Where `npm run build` puts the agent (images/guest/bundle-agent.mjs). */
export const DEFAULT_AGENT_BUNDLE = join(PACKAGE_ROOT, 'dist', 'agent', 'agent.mjs');

export interface ImageBuildResult {
  guest: GuestImage;
  probe: ProbeImage;
  ms: number;
}

/** Parses `argv` (without the command words), builds both images, returns them. */
export async function imageBuild(argv: string[], log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<ImageBuildResult> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { 'data-dir': { type: 'string' }, agent: { type: 'string' }, 'root-size': { type: 'string' } },
      strict: true,
    }));
  } catch (err) {
    throw new ForkdError('ERR_VALIDATION', `${(err as Error).message}\nusage: ${USAGE}`);
  }
  const dataDir = resolve(values['data-dir'] ?? loadConfig().dataDir);
  const agentBundle = resolve(values.agent ?? DEFAULT_AGENT_BUNDLE);
  const rootSizeMiB = values['root-size'] === undefined ? DEFAULT_ROOT_SIZE_MIB : Number(values['root-size']);
  if (!Number.isInteger(rootSizeMiB) || rootSizeMiB < 64) {
    throw new ForkdError('ERR_VALIDATION', `--root-size must be a whole number of MiB, at least 64 (got ${values['root-size']})`, { field: 'root-size' });
  }
  const started = Date.now();
  const onProgress = (step: string, detail?: string): void => log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${step}${detail === undefined ? '' : `: ${detail}`}`);
  const guest = await buildGuestImage({ dataDir, agentBundle, rootSizeMiB, onProgress });
  const probe = await buildProbeImage(dataDir, { onProgress });
  return { guest, probe, ms: Date.now() - started };
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`usage: ${USAGE}\n`);
    return 0;
  }
  try {
    const result = await imageBuild(argv);
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return 0;
  } catch (err) {
    const e = err instanceof ForkdError ? err : new ForkdError('ERR_INTERNAL', (err as Error).message, { cause: err });
    process.stderr.write(`forkd image build: ${e.code}: ${e.message}\n`);
    return e.code === 'ERR_VALIDATION' ? 2 : 1;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await main();
}
