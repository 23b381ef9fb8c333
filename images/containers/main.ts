// Command line for the image tools:
//   node dist/images/containers/main.js build busybox|redis --out FILE
//        [--format docker|oci] [--layers none|gzip|zstd] [--compress none|gzip|zstd]
//   node dist/images/containers/main.js import FILE [--tag REF] [--data-dir DIR]
//   node dist/images/containers/main.js list|inspect REF|rm REF [--data-dir DIR]

import { parseArgs } from 'node:util';
import { loadConfig } from '../../services/contracts/config.js';
import { ForkdError } from '../../services/contracts/errors.js';
import { buildBusyboxImage } from './builders/busybox.js';
import type { ArchiveOptions, BuiltArchive } from './builders/image-writer.js';
import { buildRedisImage } from './builders/redis.js';
import { importImageArchiveAll } from './image-import.js';
import { ImageStore } from './image-store.js';

const BUILDERS: Record<string, (out: string, opts: Partial<ArchiveOptions>) => Promise<BuiltArchive>> = {
  busybox: buildBusyboxImage,
  redis: buildRedisImage,
};

const USAGE = `usage: main.js build ${Object.keys(BUILDERS).join('|')} --out FILE [--format docker|oci] [--layers none|gzip|zstd] [--compress none|gzip|zstd]
       main.js import FILE [--tag REF] [--data-dir DIR]
       main.js list | inspect REF | rm REF [--data-dir DIR]`;

function oneOf<T extends string>(v: string | undefined, allowed: readonly T[], flag: string): T | undefined {
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw new Error(`${flag} must be one of ${allowed.join(', ')}`);
  return v as T;
}

async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: 'string' },
      format: { type: 'string' },
      layers: { type: 'string' },
      compress: { type: 'string' },
      tag: { type: 'string', multiple: true },
      'data-dir': { type: 'string' },
    },
  });
  const [cmd, arg] = positionals;
  const log = (m: string): void => void process.stderr.write(`${m}\n`);
  const store = (): ImageStore => new ImageStore(values['data-dir']);
  switch (cmd) {
    case 'build': {
      const build = arg === undefined ? undefined : BUILDERS[arg];
      if (build === undefined || values.out === undefined) throw new Error(USAGE);
      const opts: Partial<ArchiveOptions> = {};
      const format = oneOf(values.format, ['docker', 'oci'] as const, '--format');
      const layers = oneOf(values.layers, ['none', 'gzip', 'zstd'] as const, '--layers');
      const compression = oneOf(values.compress, ['none', 'gzip', 'zstd'] as const, '--compress');
      if (format !== undefined) opts.format = format;
      if (layers !== undefined) opts.layerCompression = layers;
      if (compression !== undefined) opts.compression = compression;
      log(`building ${arg} → ${values.out}`);
      const built = await build(values.out, opts);
      log(`wrote ${built.file}: ${built.bytes} bytes, ${built.diffIds.length} layer(s)`);
      for (const d of built.diffIds) log(`  layer ${d}`);
      process.stdout.write(`${JSON.stringify(built)}\n`);
      return;
    }
    case 'import': {
      if (arg === undefined) throw new Error(USAGE);
      const opts = { onProgress: log, ...loadConfig().imageLimits, ...(values.tag === undefined ? {} : { tags: values.tag }) };
      const images = await importImageArchiveAll(arg, store(), opts);
      for (const i of images) process.stdout.write(`${i.id} ${i.repoTags.join(',')} ${i.size}\n`);
      return;
    }
    case 'list':
      for (const i of await store().list()) process.stdout.write(`${i.id.slice(7, 19)}  ${i.repoTags.join(',') || '<none>'}  ${i.size}\n`);
      return;
    case 'inspect':
      if (arg === undefined) throw new Error(USAGE);
      process.stdout.write(`${JSON.stringify(await store().get(arg), null, 2)}\n`);
      return;
    case 'rm': {
      if (arg === undefined) throw new Error(USAGE);
      const r = await store().delete(arg);
      process.stdout.write(`deleted ${r.id}; removed ${r.removedLayers.length} layer(s)\n`);
      return;
    }
    default:
      throw new Error(USAGE);
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`${e instanceof ForkdError ? `${e.code}: ` : ''}${(e as Error).message}\n`);
  process.exitCode = 1;
});
