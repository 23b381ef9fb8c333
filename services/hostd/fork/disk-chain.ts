// Bounding a fork point's disk chain. A live fork copies the parent's overlay,
// whose backing file is the disk of the fork point the parent came from, so a
// fork of a fork of a fork… adds one layer per *generation* (a second fork of
// the same parent adds none). Past `maxForkLayers` fork-point layers below the
// new copy, the copy is rebased onto the first layer that is not a fork point
// (the template's disk): `qemu-img rebase` in safe mode copies into it what
// the layers in between held, so it no longer needs them, and those fork
// points are freed by the sweep once nothing else uses them. This runs after
// the parent is resumed, before the copy is frozen: never in the pause.
import { execFile } from 'node:child_process';
import { basename, dirname } from 'node:path';
import { promisify } from 'node:util';
import { ForkdError } from '../../contracts/errors.js';

const run = promisify(execFile);

/** At most this many fork-point layers under a fork point's disk; deeper chains are flattened onto the template. */
export const MAX_FORK_LAYERS = 4;

/** The backing files under `disk`, nearest first (absolute paths as recorded). */
export async function backingChain(disk: string): Promise<string[]> {
  const { stdout } = await run('qemu-img', ['info', '--backing-chain', '--output=json', '-U', disk], { timeout: 30_000 });
  const layers = JSON.parse(stdout) as Array<{ filename: string }>;
  return layers.slice(1).map((l) => l.filename);
}

/** A layer is a fork point's disk when its directory is a fork point's (`<templates>/<prefix>…/disk.qcow2`). */
export function isForkPointLayer(path: string, prefix: string): boolean {
  return basename(dirname(path)).startsWith(prefix);
}

/**
 * The layer to rebase onto when the chain under a new copy holds more than
 * `maxForkLayers` fork-point layers: the first that is not one. Null: the
 * chain is within the bound (or has no such layer to land on).
 */
export function flattenTarget(chain: string[], prefix: string, maxForkLayers = MAX_FORK_LAYERS): string | null {
  let forkLayers = 0;
  for (const layer of chain) {
    if (!isForkPointLayer(layer, prefix)) return forkLayers > maxForkLayers ? layer : null;
    forkLayers++;
  }
  return null;
}

/** Rebases `disk` onto `base`, copying in what the layers between held (safe mode). */
export async function rebaseOnto(disk: string, base: string): Promise<void> {
  try {
    await run('qemu-img', ['rebase', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', base, disk], { timeout: 300_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new ForkdError('ERR_INTERNAL', `qemu-img rebase of ${disk} onto ${base} failed: ${(e.stderr ?? e.message).trim()}`, { cause: err });
  }
}
