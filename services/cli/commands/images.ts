import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadConfig } from '../../contracts/config.js';
import { ForkdError } from '../../contracts/errors.js';
import { ApiClient } from '../api-client.js';
import { JSON_OPTION, forEachTarget, printJson, printTable, type Command } from '../command.js';

interface ImageView { id: string; tags: string[]; sizeBytes: number; layers: number; createdAt: string }

export const imageBuildCommand: Command = {
  path: ['image', 'build'],
  summary: 'Build the guest image (no argument), a container image archive from host files (busybox, redis), or the desktop image from Debian packages (desktop)',
  usage: 'forkd image build [busybox|redis|desktop [--out FILE] [--import]] [--packages LIST] [--data-dir DIR]',
  options: { out: { type: 'string', short: 'o' }, import: { type: 'boolean' }, 'data-dir': { type: 'string' }, packages: { type: 'string' } },
  positionals: true,
  async run({ values, positionals }) {
    const what = positionals[0];
    if (what === undefined) {
      const { imageBuild } = await import('../../../images/guest/main.js');
      const result = await imageBuild(values['data-dir'] ? ['--data-dir', String(values['data-dir'])] : []);
      process.stderr.write(`forkd: guest image ${result.guest.id} (kernel ${result.guest.kernelVersion}) in ${result.guest.dir}\n`);
      return 0;
    }
    if (what === 'desktop') return buildDesktop(values);
    if (values.packages !== undefined) throw new ForkdError('ERR_VALIDATION', '--packages is for the desktop image only', { field: 'packages' });
    const { buildBusyboxImage, buildRedisImage } = await import('../../../images/containers/index.js');
    const builders: Record<string, typeof buildBusyboxImage> = { busybox: buildBusyboxImage, redis: buildRedisImage };
    const build = builders[what];
    if (!build) throw new ForkdError('ERR_VALIDATION', `unknown image builder ${JSON.stringify(what)}: choose busybox, redis or desktop`, { field: 'builder' });
    const out = typeof values.out === 'string' ? values.out : `${what}.tar`;
    process.stderr.write(`forkd: building ${what} from this host's files into ${out}…\n`);
    await build(out, {});
    process.stderr.write(`forkd: wrote ${out} (${(await stat(out)).size} bytes)\n`);
    if (values.import) return importFile(out, []);
    return 0;
  },
};

/** The desktop image (images/desktop/): cached by content under the data directory, one progress line per step. */
async function buildDesktop(values: Record<string, unknown>): Promise<number> {
  const { buildDesktopImage } = await import('../../../images/desktop/build.js');
  const dataDir = typeof values['data-dir'] === 'string' ? resolve(values['data-dir']) : loadConfig().dataDir;
  const out = typeof values.out === 'string' ? values.out : 'desktop.tar';
  const built = await buildDesktopImage({
    out,
    cacheDir: join(dataDir, 'images', 'desktop'),
    ...(typeof values.packages === 'string' ? { packages: values.packages } : {}),
    progress: (line) => process.stderr.write(`forkd: desktop image: ${line}\n`),
  });
  process.stderr.write(`forkd: wrote ${out} (${(built.bytes / 2 ** 20).toFixed(1)} MiB, image ${built.id.slice(7, 19)}, ${built.cached ? 'from the cache' : `built in ${(built.ms / 1000).toFixed(1)} s`}; packages: ${built.packages.join(' ')})\n`);
  if (values.import) return importFile(out, []);
  return 0;
}

async function importFile(file: string, tags: string[]): Promise<number> {
  const size = (await stat(file).catch(() => { throw new ForkdError('ERR_VALIDATION', `cannot read ${file}`, { field: 'file' }); })).size;
  process.stderr.write(`forkd: uploading ${file} (${(size / 2 ** 20).toFixed(1)} MiB)…\n`);
  const query = tags.map((t) => `tag=${encodeURIComponent(t)}`).join('&');
  const result = await ApiClient.fromEnv().request<{ images: ImageView[] }>('POST', `/v1/images${query ? `?${query}` : ''}`, undefined, {
    rawBody: createReadStream(file), headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
  });
  for (const img of result.images) process.stdout.write(`${img.id}  ${img.tags.join(', ') || '<untagged>'}\n`);
  return 0;
}

export const imageImportCommand: Command = {
  path: ['image', 'import'],
  summary: 'Upload a docker-save or OCI image archive (plain, gzip or zstd)',
  usage: 'forkd image import FILE [-t NAME[:TAG]]…',
  options: { tag: { type: 'string', short: 't', multiple: true } },
  positionals: true,
  async run({ values, positionals }) {
    if (positionals.length !== 1) throw new ForkdError('ERR_VALIDATION', 'usage: forkd image import FILE [-t NAME[:TAG]]…', { field: 'file' });
    return importFile(positionals[0]!, (values.tag as string[] | undefined) ?? []);
  },
};

export const imageLsCommand: Command = {
  path: ['image', 'ls'],
  summary: 'List images',
  usage: 'forkd image ls [--json]',
  options: JSON_OPTION,
  async run({ values }) {
    const { images } = await ApiClient.fromEnv().request<{ images: ImageView[] }>('GET', '/v1/images');
    if (values.json) printJson(images);
    else printTable(['ID', 'TAGS', 'SIZE', 'LAYERS', 'CREATED'], images.map((i) => [i.id.slice(7, 19), i.tags.join(',') || '<none>', `${(i.sizeBytes / 2 ** 20).toFixed(1)} MiB`, i.layers, i.createdAt]));
    return 0;
  },
};

export const imageRmCommand: Command = {
  path: ['image', 'rm'],
  summary: 'Delete images (refused while a container uses one)',
  usage: 'forkd image rm IMAGE…',
  options: {},
  positionals: true,
  async run({ positionals }) {
    const api = ApiClient.fromEnv();
    return forEachTarget(imageRmCommand, positionals, async (ref) => {
      const { deleted } = await api.request<{ deleted: ImageView }>('DELETE', `/v1/images/${encodeURIComponent(ref)}`);
      return `deleted ${deleted.id}`;
    });
  },
};
