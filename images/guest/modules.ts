// Which kernel modules the guest loads, and in what order. Debian's kernel builds
// the virtio drivers and ext4 as modules; the order comes from modules.dep (each
// module after everything it depends on) rather than from a hand-kept list.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ForkdError } from '../../services/contracts/errors.js';

export type ModuleStage = 'initramfs' | 'rootfs';

export interface WantedModule {
  readonly name: string;
  /** initramfs: needed to reach the root disk; rootfs: loaded by /sbin/init. */
  readonly stage: ModuleStage;
  /** Skip quietly when the kernel does not ship it. */
  readonly optional?: boolean;
  readonly why: string;
}

/** The guest's modules, in the order they are wanted; dependencies are added from modules.dep. */
export const GUEST_MODULES: readonly WantedModule[] = [
  { name: 'virtio_pci', stage: 'initramfs', why: 'the PCI transport every virtio device sits on' },
  { name: 'virtio_blk', stage: 'initramfs', why: 'the root disk /dev/vda' },
  { name: 'virtio_console', stage: 'initramfs', why: 'the agent channel (virtio-serial port org.forkd.agent.0)' },
  { name: 'crc32c_generic', stage: 'initramfs', why: 'ext4 metadata checksums ask the crypto API for crc32c' },
  { name: 'ext4', stage: 'initramfs', why: 'the root filesystem' },
  { name: 'virtio_net', stage: 'rootfs', why: 'the guest NIC' },
  { name: 'overlay', stage: 'rootfs', why: 'container root filesystems (image layers + writable layer)' },
  { name: 'virtio_rng', stage: 'rootfs', optional: true, why: 'entropy from the host (forks reseed from it)' },
];

export interface ModuleEntry {
  /** Normalised module name (dashes become underscores, as the kernel names them). */
  readonly name: string;
  /** Path relative to the modules directory, e.g. kernel/fs/ext4/ext4.ko */
  readonly path: string;
  /** Names of every module it needs (modules.dep lists the full closure). */
  readonly deps: readonly string[];
}

export function moduleNameOf(path: string): string {
  return basename(path).replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_');
}

export function parseModulesDep(text: string): Map<string, ModuleEntry> {
  const out = new Map<string, ModuleEntry>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const path = line.slice(0, colon).trim();
    const deps = line.slice(colon + 1).trim().split(/\s+/).filter((d) => d !== '').map(moduleNameOf);
    out.set(moduleNameOf(path), { name: moduleNameOf(path), path, deps });
  }
  return out;
}

/**
 * Orders `wanted` and all their dependencies so every module comes after the
 * modules it needs (depth first over modules.dep), keeping `wanted`'s order
 * otherwise. Names already in `skip` (loaded by an earlier stage) are left out.
 */
export function loadOrder(dep: ReadonlyMap<string, ModuleEntry>, wanted: readonly string[], skip: ReadonlySet<string> = new Set()): ModuleEntry[] {
  const order: ModuleEntry[] = [];
  const done = new Set<string>(skip);
  const visiting = new Set<string>();
  const visit = (name: string, from: string): void => {
    if (done.has(name)) return;
    const entry = dep.get(name);
    if (entry === undefined) throw new ForkdError('ERR_CONFIG', `kernel module ${name} (needed by ${from}) is not in modules.dep`);
    if (visiting.has(name)) throw new ForkdError('ERR_INTERNAL', `modules.dep has a cycle through ${name}`);
    visiting.add(name);
    // modules.dep lists the closure; each dependency's own entry orders it further.
    for (const d of [...entry.deps].reverse()) visit(d, name);
    visiting.delete(name);
    done.add(name);
    order.push(entry);
  };
  for (const name of wanted) visit(name, 'the guest');
  return order;
}

export interface ModulePlan {
  readonly initramfs: readonly ModuleEntry[];
  readonly rootfs: readonly ModuleEntry[];
  /** Optional modules this kernel does not have. */
  readonly missing: readonly string[];
}

export async function planModules(modulesDir: string, wanted: readonly WantedModule[] = GUEST_MODULES): Promise<ModulePlan> {
  const dep = parseModulesDep(await readFile(join(modulesDir, 'modules.dep'), 'utf8'));
  const missing = wanted.filter((m) => m.optional === true && !dep.has(m.name)).map((m) => m.name);
  const present = wanted.filter((m) => !missing.includes(m.name));
  const initramfs = loadOrder(dep, present.filter((m) => m.stage === 'initramfs').map((m) => m.name));
  const rootfs = loadOrder(dep, present.filter((m) => m.stage === 'rootfs').map((m) => m.name), new Set(initramfs.map((m) => m.name)));
  return { initramfs, rootfs, missing };
}

/** A module's bytes, decompressed when the kernel package ships .ko.xz/.ko.zst/.ko.gz. */
export async function readModule(modulesDir: string, entry: ModuleEntry): Promise<Buffer> {
  const path = join(modulesDir, entry.path);
  if (path.endsWith('.ko')) return readFile(path);
  if (path.endsWith('.ko.gz')) return gunzipSync(await readFile(path));
  const tool = path.endsWith('.ko.xz') ? 'xz' : path.endsWith('.ko.zst') ? 'zstd' : undefined;
  if (tool === undefined) throw new ForkdError('ERR_CONFIG', `unknown kernel module format: ${path}`);
  const { stdout } = await execBinary(tool, ['-dc', path]);
  return stdout;
}

async function execBinary(cmd: string, args: string[]): Promise<{ stdout: Buffer }> {
  // Modules are binary: collect stdout as bytes.
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', (cause) => reject(new ForkdError('ERR_CONFIG', `\`${cmd}\` is needed to decompress kernel modules`, { cause })));
    child.on('close', (code) => {
      if (code === 0) resolve({ stdout: Buffer.concat(chunks) });
      else reject(new ForkdError('ERR_INTERNAL', `${cmd} ${args.join(' ')} failed (exit ${code}): ${stderr.trim()}`));
    });
  });
}
