// The desktop image the desktop test and bench import: built from Debian
// packages on first use (minutes: mmdebstrap through apt's own sources) and
// kept by content in var/images/desktop, where `forkd image build desktop`
// keeps it, so a checkout (and CI's fresh machine) builds it once; a full run
// starts it in the background (global-setup.ts).
import { join } from 'node:path';
import { buildDesktopImage } from '../images/desktop/build.js';
import { PACKAGE_ROOT } from '../services/contracts/config.js';

/** Builds (or finds) the desktop image and answers a docker-save archive of it to import. */
export async function desktopImageTar(progress: (line: string) => void = (l) => console.log(`desktop image: ${l}`), opts: { idle?: boolean } = {}): Promise<string> {
  const cacheDir = join(PACKAGE_ROOT, 'var', 'images', 'desktop');
  const built = await buildDesktopImage({ out: join(cacheDir, 'import', 'desktop.tar'), cacheDir, progress, idle: opts.idle });
  if (!built.cached) progress(`built in ${Math.round(built.ms / 1000)} s (${Math.round(built.bytes / 2 ** 20)} MiB), cached as ${built.key}`);
  return built.file;
}
