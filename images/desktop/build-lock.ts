// One desktop build per cache directory at a time, across processes: a second
// `forkd image build desktop` (or the test suite's background build and the
// desktop test) waits for the first and then finds its result in the cache,
// instead of running mmdebstrap twice over the same minutes of work.
import { open, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

const POLL_MS = 500;

/** Whether a process with this pid is alive (a lock whose holder died is stale). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Runs `fn` holding `<dir>/.build.lock` (a file holding the holder's pid).
 * Waits while a live process holds it, telling `onWait` once; takes over a
 * lock left by a dead process.
 */
export async function withBuildLock<T>(dir: string, fn: () => Promise<T>, onWait: (holder: number) => void = () => {}): Promise<T> {
  const path = join(dir, '.build.lock');
  let told = false;
  for (;;) {
    try {
      const fh = await open(path, 'wx', 0o644);
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
    // An empty file is a holder between its open and its write, unless it has
    // been empty for long (a holder that died right after its open).
    const empty = !Number.isInteger(holder) && Date.now() - ((await stat(path).catch(() => null))?.mtimeMs ?? 0) > 10_000;
    if (empty || (Number.isInteger(holder) && holder > 0 && !alive(holder))) {
      await rm(path, { force: true });
      continue;
    }
    if (!told && Number.isInteger(holder)) { told = true; onWait(holder); }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  try {
    return await fn();
  } finally {
    await rm(path, { force: true });
  }
}
