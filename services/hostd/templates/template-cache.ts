// A content-addressed cache of built templates, shared by every hostd that
// names the same directory (FORKD_TEMPLATE_CACHE_DIR; off by default). A
// template is a pure function of what it was built from: the guest image, the
// container image baked in, the size, the NIC, the accelerator and QEMU. Two
// data directories on one machine (the test suite's stacks, a re-created
// data directory) would otherwise each boot a guest to build the same bytes;
// with the cache the second one copies them (about a second instead of a
// 10–30 s boot under TCG).
//
// Only image templates are cached: an app template holds its tenant's running
// containers and their opened env, which must never leave that template.
// Entries are copied in and out, never linked, so damaging (or deleting) a
// template leaves the cache alone and a damaged entry cannot reach a template:
// every copy is checked like any template before it is used.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Accel } from '../../contracts/config.js';
import type { TemplateBuildInput } from '../../contracts/jobs.js';
import { agentImageConfig } from '../handlers/guest.js';
import { giveToQemu } from '../fork/qemu-owner.js';
import type { GuestImageRef } from '../fork/template-builder.js';
import { readManifest, recordFile, TEMPLATE_FILES, TEMPLATE_FORMAT_VERSION, writeManifest } from '../fork/template-manifest.js';
import type { NetworkSpec } from '../vm/domain-xml.js';

const run = promisify(execFile);

/** Entries kept; the least recently used go first. A template is a few tens of MiB on disk (its memory file is sparse). */
export const TEMPLATE_CACHE_ENTRIES = 12;

export interface TemplateCacheKeyParts {
  guest: GuestImageRef;
  accel: Accel;
  qemuVersion: string;
  machine: string;
  network: NetworkSpec | null;
}

/** The cache key of a build, or null when the build must not be cached (an app template). */
export function templateCacheKey(input: TemplateBuildInput, host: TemplateCacheKeyParts): string | null {
  if (input.containers.length > 0) return null;
  const image = input.image
    ? { id: input.image.id, config: agentImageConfig(input.image), layers: input.image.layers.map((l) => ({ diffId: l.diffId, size: l.size })) }
    : null;
  const facts = {
    format: TEMPLATE_FORMAT_VERSION, guest: host.guest.id, cmdline: host.guest.cmdline, accel: host.accel, qemu: host.qemuVersion,
    machine: host.machine, network: host.network, vcpus: input.vcpus, memoryMib: input.memoryMib, image,
  };
  return createHash('sha256').update(JSON.stringify(facts)).digest('hex').slice(0, 32);
}

const FILES = [TEMPLATE_FILES.memory, TEMPLATE_FILES.state, TEMPLATE_FILES.disk, TEMPLATE_FILES.manifest] as const;

/**
 * cp keeps the memory file sparse (Node's copyFile writes every zero page), clones where the filesystem can,
 * and keeps owner and mode: the memory file belongs to QEMU's user, which opens it by path.
 */
async function copyInto(from: string, to: string): Promise<void> {
  await run('cp', ['--sparse=always', '--reflink=auto', '--preserve=mode,ownership', ...FILES.map((f) => join(from, f)), to], { timeout: 120_000 });
}

export class TemplateCache {
  constructor(private readonly dir: string) {}

  /**
   * Fills `templateDir` (empty) from the entry for `key` and makes it this
   * template's: the manifest names the new id and this host's guest image
   * paths, and the disk's backing file points at this host's copy of the same
   * guest image. false when there is no entry. The caller checks the result
   * like any template (and builds instead when that fails).
   */
  async restore(key: string, templateDir: string, templateId: string, guest: GuestImageRef): Promise<boolean> {
    const entry = join(this.dir, key);
    if (!(await exists(join(entry, TEMPLATE_FILES.manifest)))) return false;
    await mkdir(templateDir, { recursive: true });
    await copyInto(entry, templateDir);
    // QEMU's user opens the memory file by path. cp keeps the entry's owner, but an entry copied or restored
    // by other means (cp -r, a backup) is root's, and every clone of it would fail "Permission denied".
    await giveToQemu(join(templateDir, TEMPLATE_FILES.memory));
    const disk = join(templateDir, TEMPLATE_FILES.disk);
    await chmod(disk, 0o644);
    // Same guest image (it is in the key), another path: only the header's backing name changes.
    await run('qemu-img', ['rebase', '-u', '-f', 'qcow2', '-F', 'qcow2', '-b', guest.rootDisk, disk], { timeout: 30_000 });
    await chmod(disk, 0o444);
    const m = await readManifest(templateDir);
    await writeManifest(templateDir, {
      ...m, id: templateId, kernel: guest.kernel, initramfs: guest.initramfs, cmdline: guest.cmdline, createdAt: new Date().toISOString(),
      files: { ...m.files, disk: await recordFile(disk) },
    });
    const now = new Date();
    await utimes(entry, now, now).catch(() => undefined); // recently used: evicted last
    return true;
  }

  /** Keeps a copy of a freshly built template under `key` (first writer wins), then trims the cache. */
  async store(key: string, templateDir: string): Promise<void> {
    const entry = join(this.dir, key);
    if (await exists(join(entry, TEMPLATE_FILES.manifest))) return;
    await mkdir(this.dir, { recursive: true });
    const tmp = join(this.dir, `.tmp-${key}-${randomBytes(4).toString('hex')}`);
    await mkdir(tmp);
    try {
      await copyInto(templateDir, tmp);
      await rename(tmp, entry); // atomic: a reader sees a whole entry or none; another writer's entry wins (ENOTEMPTY)
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      if ((err as NodeJS.ErrnoException).code !== 'ENOTEMPTY' && (err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    await this.trim();
  }

  /** Drops the least recently used entries past TEMPLATE_CACHE_ENTRIES (and temp dirs of writers that died). */
  private async trim(): Promise<void> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const entries: Array<{ name: string; mtimeMs: number }> = [];
    for (const name of names) {
      const s = await stat(join(this.dir, name)).catch(() => null);
      if (!s) continue;
      if (name.startsWith('.tmp-')) {
        if (Date.now() - s.mtimeMs > 3_600_000) await rm(join(this.dir, name), { recursive: true, force: true });
        continue;
      }
      entries.push({ name, mtimeMs: s.mtimeMs });
    }
    entries.sort((a, b) => b.mtimeMs - a.mtimeMs);
    for (const old of entries.slice(TEMPLATE_CACHE_ENTRIES)) await rm(join(this.dir, old.name), { recursive: true, force: true });
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}
