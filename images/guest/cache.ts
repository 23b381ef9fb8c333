// One content-addressed directory per build: `<root>/<id>/`. A build runs in a
// temp directory beside it and is renamed into place only when complete, so a
// crash never leaves a half image under the final name; a finished directory
// is never rebuilt.
import { chmod, mkdir, mkdtemp, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { processAlive } from '../dir-lock.js';

/** Written last inside every finished build; its presence marks the build complete. */
export const MANIFEST = 'manifest.json';

const TMP_PREFIX = '.tmp-';
const inFlight = new Map<string, Promise<BuildOnceResult>>();

export interface BuildOnceResult {
  dir: string;
  /** true when the directory already existed and nothing was built. */
  cached: boolean;
}

/**
 * Returns `<root>/<id>`, running `build(tmpDir)` first if it does not exist yet.
 * `build` must write MANIFEST into tmpDir as its last step. Concurrent callers
 * in this process share one build; builds in other processes race harmlessly
 * (the first rename wins, the loser's copy is discarded).
 */
export function buildOnce(root: string, id: string, build: (tmpDir: string) => Promise<void>): Promise<BuildOnceResult> {
  const key = join(root, id);
  const running = inFlight.get(key);
  if (running !== undefined) return running;
  const p = doBuild(root, id, build).finally(() => inFlight.delete(key));
  inFlight.set(key, p);
  return p;
}

async function doBuild(root: string, id: string, build: (tmpDir: string) => Promise<void>): Promise<BuildOnceResult> {
  const dir = join(root, id);
  if (await isComplete(dir)) return { dir, cached: true };
  await mkdir(root, { recursive: true });
  await removeStaleTemps(root);
  const tmp = await mkdtemp(join(root, `${TMP_PREFIX}${id}-${process.pid}-`));
  try {
    await chmod(tmp, 0o755); // mkdtemp makes it 0700; QEMU may run as another user
    await build(tmp);
    if (!existsSync(join(tmp, MANIFEST))) throw new Error(`build of ${id} did not write ${MANIFEST}`);
    await syncDir(tmp);
    return { dir, cached: await publish(tmp, dir, root, id) };
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Renames `tmp` to `dir`. Returns true when another builder got there first
 * with a complete build (ours is discarded). A `dir` without a manifest was not
 * made by a builder (they only rename complete trees): it is moved aside.
 */
async function publish(tmp: string, dir: string, root: string, id: string): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    try {
      await rename(tmp, dir);
      return false;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if ((code !== 'EEXIST' && code !== 'ENOTEMPTY') || attempt > 0) throw e;
    }
    if (await isComplete(dir)) {
      await rm(tmp, { recursive: true, force: true });
      return true;
    }
    const trash = `${join(root, TMP_PREFIX)}${id}-${process.pid}-incomplete`;
    await rename(dir, trash);
    await rm(trash, { recursive: true, force: true });
  }
}

export async function isComplete(dir: string): Promise<boolean> {
  return existsSync(join(dir, MANIFEST));
}

/** Temp dirs left by a builder process that no longer runs (it crashed). */
async function removeStaleTemps(root: string): Promise<void> {
  for (const name of await readdir(root)) {
    if (!name.startsWith(TMP_PREFIX)) continue;
    const pid = Number(/-(\d+)-[^-]*$/.exec(name)?.[1]);
    if (Number.isInteger(pid) && pid > 0 && processAlive(pid)) continue;
    await rm(join(root, name), { recursive: true, force: true });
  }
}

/** Flushes every file in `dir` and the directory itself, so the rename publishes data that is on disk. */
async function syncDir(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    const s = await stat(join(dir, name));
    if (!s.isFile()) continue;
    const fh = await open(join(dir, name), 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

