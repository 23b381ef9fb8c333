// The desktop image builder's failures: without a route to the Debian mirror
// (apt's sources pointing at a closed loopback port) the build fails at the
// package step with mmdebstrap's own words, and leaves no cache entry and no
// temporary files. A full build (minutes: packages come from the mirror) runs
// where the desktop end-to-end test needs the image.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ForkdError } from '../../services/contracts/errors.js';
import { buildDesktopImage } from './build.js';

let work: string;
beforeAll(() => { work = mkdtempSync(join(tmpdir(), 'forkd-test-desktop-build-')); });
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('buildDesktopImage without the Debian mirror', () => {
  it('fails at the package step with a clear error, and leaves nothing behind', async () => {
    const sources = join(work, 'unreachable.sources');
    // Port 9 (discard) on loopback: nothing listens, so apt's fetch is refused at once.
    writeFileSync(sources, 'Types: deb\nURIs: http://127.0.0.1:9/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n');
    const cacheDir = join(work, 'cache');
    const lines: string[] = [];
    const err = await buildDesktopImage({ out: join(work, 'desktop.tar'), cacheDir, sources, progress: (l) => lines.push(l) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ForkdError);
    const fe = err as ForkdError;
    expect(fe.code).toBe('ERR_IMAGE_BUILD');
    expect(fe.message).toMatch(/the Debian package step failed/);
    expect(fe.message).toContain(sources);
    expect(fe.field).toBe('packages');
    // Positive control: the builder did get as far as the package step (it said so before it failed).
    expect(lines.some((l) => /installing \d+ Debian packages/.test(l))).toBe(true);
    expect(readdirSync(cacheDir)).toEqual([]);
    expect(readdirSync(work).sort()).toEqual(['cache', 'unreachable.sources']);
  }, 120_000);

  it('refuses a bad package name before running anything', async () => {
    const err = await buildDesktopImage({ out: join(work, 'x.tar'), cacheDir: join(work, 'cache2'), packages: 'xterm;reboot' }).catch((e: unknown) => e);
    expect((err as ForkdError).code).toBe('ERR_VALIDATION');
    expect((err as ForkdError).field).toBe('packages');
    expect(readdirSync(work)).not.toContain('cache2');
  });
});
