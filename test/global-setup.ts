// Work the integration suite can start before any test needs it. The desktop
// image (minutes of mmdebstrap on a cold apt cache) is built at idle CPU and
// I/O priority from the start of the run, so it fills time the guests leave
// idle instead of adding to the desktop test's set-up; the desktop test
// waits on the same build lock and then finds the image in the cache. Only
// when the run includes the desktop test (no file filter, or one naming it).
import { mkdirSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { PACKAGE_ROOT } from '../services/contracts/config.js';
import { desktopImageTar } from './desktop-image.js';

export default function setup(project: TestProject): () => Promise<void> {
  const filters = project.vitest.config.filters ?? [];
  if (filters.length > 0 && !filters.some((f) => 'test/desktop.test.ts'.includes(f) || f.includes('desktop'))) return async () => {};
  const dir = join(PACKAGE_ROOT, 'var', 'test-artifacts');
  mkdirSync(dir, { recursive: true });
  const log = join(dir, 'desktop-image-build.log');
  const write = (line: string) => appendFileSync(log, `${new Date().toISOString()} ${line}\n`);
  // A failure here is only logged: the desktop test builds again in the open and reports it.
  const building = desktopImageTar(write, { idle: true }).catch((err: unknown) => write(`failed: ${String(err)}`));
  return async () => { await building; };
}
