// `forkd image build desktop`: a container image (docker-save archive) with a
// desktop session, built offline from Debian packages through apt's own
// sources with mmdebstrap (nothing else is downloaded), plus a small layer with
// the session script. Cached by content: the same packages, sources, script
// and builder give the same cache file, so a second build is a copy.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { ForkdError } from '../../services/contracts/errors.js';
import { PATH_ENV } from '../containers/builders/busybox.js';
import { writeImageArchive } from '../containers/builders/image-writer.js';
import { LayerTree } from '../containers/builders/layer-tree.js';
import { withDirLock } from '../dir-lock.js';
import { DESKTOP_PATH_EXCLUDES, DESKTOP_SUITE, desktopPackages } from './packages.js';
import { DESKTOP_SESSION_PATH, DESKTOP_SESSION_SCRIPT, DESKTOP_VNC_PORT } from './session.js';

/** Bump when what the builder writes changes without its inputs changing. */
const DESKTOP_BUILDER_VERSION = 1;

export const DESKTOP_IMAGE_TAG = 'forkd/desktop:latest';
export const DEFAULT_APT_SOURCES = '/etc/apt/sources.list.d/debian.sources';

export interface DesktopBuildOptions {
  /** Where the archive goes. */
  out: string;
  /** Where built archives are kept by content (e.g. `<data dir>/images/desktop`). */
  cacheDir: string;
  /** Packages beyond the defaults (packages.ts). */
  packages?: string | readonly string[];
  /** apt sources (deb822 or one-line) mmdebstrap fetches from; default the host's Debian sources. */
  sources?: string;
  /** One line per step (mmdebstrap's own `I:` lines while packages install). */
  progress?: (line: string) => void;
  /** Run the package step at idle CPU and I/O priority (a build ahead of need, as the test suite's). */
  idle?: boolean;
}

export interface BuiltDesktop {
  file: string;
  id: string;
  key: string;
  cached: boolean;
  packages: string[];
  bytes: number;
  ms: number;
}

export async function buildDesktopImage(opts: DesktopBuildOptions): Promise<BuiltDesktop> {
  const t0 = Date.now();
  const progress = opts.progress ?? (() => {});
  const packages = desktopPackages(opts.packages ?? []);
  const sources = opts.sources ?? DEFAULT_APT_SOURCES;
  const sourcesText = await readFile(sources, 'utf8').catch((err) => {
    throw new ForkdError('ERR_CONFIG', `apt sources ${sources} cannot be read (${(err as NodeJS.ErrnoException).code}); the desktop image is built from Debian packages through apt's own sources`, { field: 'sources' });
  });
  const key = createHash('sha256')
    .update(JSON.stringify({ v: DESKTOP_BUILDER_VERSION, suite: DESKTOP_SUITE, packages, excludes: DESKTOP_PATH_EXCLUDES, script: DESKTOP_SESSION_SCRIPT, sources: sourcesText }))
    .digest('hex').slice(0, 24);
  const cached = join(opts.cacheDir, `desktop-${key}.tar`);
  const idFile = `${cached}.id`;
  await mkdir(opts.cacheDir, { recursive: true });
  // One build per cache at a time: a second waits for the first and copies its result.
  return withDirLock(join(opts.cacheDir, '.build.lock'), build, {
    timeoutMs: Number.POSITIVE_INFINITY,
    onWait: (holder) => progress(`waiting for the build already running (pid ${holder})`),
  });

  async function build(): Promise<BuiltDesktop> {
    if (await exists(cached) && await exists(idFile)) {
      progress(`using the cached build ${cached}`);
      if (cached !== opts.out) {
        await mkdir(dirname(opts.out), { recursive: true });
        await copyFile(cached, opts.out);
      }
      return done(true, (await readFile(idFile, 'utf8')).trim());
    }

    const work = await mkdtemp(join(opts.cacheDir, '.build-'));
    let id: string;
    try {
      const rootfs = join(work, 'rootfs.tar');
      progress(`installing ${packages.length} Debian packages and their dependencies with mmdebstrap (${DESKTOP_SUITE}, sources ${sources})`);
      await mmdebstrap(packages, rootfs, sources, progress, opts.idle === true);
      progress('writing the image');
      const session = new LayerTree().dir('usr/local/bin').data(DESKTOP_SESSION_PATH.slice(1), DESKTOP_SESSION_SCRIPT, 0o755).dir('run', 0o755);
      const archive = join(work, 'desktop.tar');
      const built = await writeImageArchive(archive, {
        repoTag: DESKTOP_IMAGE_TAG,
        config: {
          Env: [PATH_ENV, 'FORKD_DESKTOP_GEOMETRY=1280x800'],
          Cmd: [DESKTOP_SESSION_PATH],
          ExposedPorts: { [`${DESKTOP_VNC_PORT}/tcp`]: {} },
        },
        layers: [await readFile(rootfs), await session.tar()],
      }, { format: 'docker' });
      id = built.id;
      await writeFile(idFile, `${id}\n`);
      await rename(archive, cached); // whole or absent: a build killed midway leaves no cache entry
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    if (cached !== opts.out) {
      await mkdir(dirname(opts.out), { recursive: true });
      await copyFile(cached, opts.out);
    }
    return done(false, id);
  }

  async function done(wasCached: boolean, imageId: string): Promise<BuiltDesktop> {
    return { file: opts.out, id: imageId, key, cached: wasCached, packages, bytes: (await stat(opts.out)).size, ms: Date.now() - t0 };
  }
}

/**
 * Runs mmdebstrap; its `I:` lines go to `progress`. A failure is
 * ERR_IMAGE_BUILD naming the package step and carrying mmdebstrap's `E:` lines
 * (no route to the mirror, an unknown package).
 */
async function mmdebstrap(packages: string[], out: string, sources: string, progress: (line: string) => void, idle: boolean): Promise<void> {
  const args = [
    '--mode=root', '--variant=minbase', `--include=${packages.join(',')}`,
    // crun gives the container its own /dev; device nodes in a layer would only be shadowed.
    '--skip=output/dev',
    ...DESKTOP_PATH_EXCLUDES.map((p) => `--dpkgopt=path-exclude=${p}`),
    DESKTOP_SUITE, out, sources,
  ];
  const errors: string[] = [];
  const code = await new Promise<number | null>((resolve, reject) => {
    // At idle priority the build takes only CPU and disk time nothing else wants.
    const [cmd, argv] = idle ? ['nice', ['-n', '19', 'ionice', '-c', '3', 'mmdebstrap', ...args]] as const : ['mmdebstrap', args] as const;
    const child = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_ALL: 'C.UTF-8', DEBIAN_FRONTEND: 'noninteractive' } });
    child.on('error', (err) => {
      reject((err as NodeJS.ErrnoException).code === 'ENOENT'
        ? new ForkdError('ERR_CONFIG', 'mmdebstrap is not installed: run ops/bootstrap.sh (or apt-get install mmdebstrap)', { field: 'mmdebstrap' })
        : err);
    });
    createInterface({ input: child.stderr }).on('line', (line) => {
      if (line.startsWith('E: ') || line.startsWith('W: ')) errors.push(line);
      if (line.startsWith('I: ')) progress(line.slice(3));
    });
    child.on('close', resolve);
  });
  if (code !== 0) {
    const why = errors.filter((l) => l.startsWith('E: ')).slice(-6).join('; ') || `mmdebstrap exited with ${code}`;
    throw new ForkdError('ERR_IMAGE_BUILD', `desktop image: the Debian package step failed (mmdebstrap ${DESKTOP_SUITE} from ${sources}): ${why}`, {
      field: 'packages', detail: { step: 'packages', sources, packages },
    });
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}
