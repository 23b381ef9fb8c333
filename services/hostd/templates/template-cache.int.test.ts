// The template cache: a template built on one data directory is copied into
// another instead of booted again, made that template's own (id, guest image
// paths, disk backing file), and still passes the full check. No guest runs:
// the files are a real qcow2 overlay, a sparse memory file and a state file.
import { execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TemplateBuildInput } from '../../contracts/jobs.js';
import { backingFileOf } from '../fork/disk-overlay.js';
import { qemuProcessOwner } from '../fork/qemu-owner.js';
import type { GuestImageRef } from '../fork/template-builder.js';
import { readManifest, recordFile, TEMPLATE_FORMAT_VERSION, verifyTemplateFiles, writeManifest } from '../fork/template-manifest.js';
import { TEMPLATE_CACHE_ENTRIES, TemplateCache, templateCacheKey } from './template-cache.js';

let work: string;
const guestIn = (dir: string): GuestImageRef => ({ id: 'guest-1', kernel: join(dir, 'vmlinuz'), initramfs: join(dir, 'initrd'), rootDisk: join(dir, 'root.qcow2'), cmdline: 'console=ttyS0' });
const host = (guest: GuestImageRef) => ({ guest, accel: 'tcg' as const, qemuVersion: '7.2.0', machine: 'pc-i440fx-7.2', network: null });
const input = (over: Partial<TemplateBuildInput> = {}): TemplateBuildInput => ({
  templateId: 't1', vcpus: 1, memoryMib: 256, poolSize: 1, containers: [],
  image: { id: 'img-1', config: { Cmd: ['sh'] }, layers: [{ diffId: 'sha256:aa', size: 10, path: '/x/1.tar' }] },
  ...over,
});

/** A guest image (a qcow2 root disk) in `dir`, and a template built on it in `dir/templates/<id>`. */
function fakeBuild(dir: string, id: string): { guest: GuestImageRef; templateDir: string } {
  mkdirSync(dir, { recursive: true });
  const guest = guestIn(dir);
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', guest.rootDisk, '64M']);
  const templateDir = join(dir, 'templates', id);
  mkdirSync(templateDir, { recursive: true });
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', guest.rootDisk, join(templateDir, 'disk.qcow2')]);
  execFileSync('truncate', ['-s', '256M', join(templateDir, 'memory')]);
  writeFileSync(join(templateDir, 'state'), 'device state');
  return { guest, templateDir };
}

beforeAll(() => { work = mkdtempSync(join(tmpdir(), 'forkd-test-template-cache-')); });
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A fake build with its manifest written: a template as the store would hold it. */
async function builtTemplate(dir: string, id: string): Promise<ReturnType<typeof fakeBuild>> {
  const b = fakeBuild(dir, id);
  await writeManifest(b.templateDir, {
    formatVersion: TEMPLATE_FORMAT_VERSION, id, imageId: 'img-1', kernel: b.guest.kernel, initramfs: b.guest.initramfs, cmdline: b.guest.cmdline,
    vcpus: 1, memoryMib: 256, accel: 'tcg', qemuVersion: '7.2.0', machine: 'pc-i440fx-7.2', ramId: 'forkd-ram', network: null, createdAt: new Date().toISOString(),
    files: { memory: await recordFile(join(b.templateDir, 'memory')), state: await recordFile(join(b.templateDir, 'state')), disk: await recordFile(join(b.templateDir, 'disk.qcow2')) },
  });
  return b;
}

describe('templateCacheKey', () => {
  it('is the same for the same build and differs when anything the template is made of differs', () => {
    const g = guestIn('/a');
    const k = templateCacheKey(input(), host(g));
    expect(k).toMatch(/^[0-9a-f]{32}$/);
    // Positive control: another template id, pool size or data directory's paths are the same build.
    expect(templateCacheKey(input({ templateId: 'other', poolSize: 4 }), host(guestIn('/b')))).toBe(k);
    expect(templateCacheKey(input({ memoryMib: 512 }), host(g))).not.toBe(k);
    expect(templateCacheKey(input({ image: null }), host(g))).not.toBe(k);
    expect(templateCacheKey(input(), { ...host(g), accel: 'kvm' })).not.toBe(k);
    expect(templateCacheKey(input(), { ...host(g), guest: { ...g, id: 'guest-2' } })).not.toBe(k);
  });

  it('never caches an app template (its containers and their env belong to it alone)', () => {
    const app = input({ containers: [{ containerId: 'c1', spec: { command: ['sh'], env: { v: 1, iv: '', tag: '', data: '' } as never, limits: {} } }] });
    expect(templateCacheKey(app, host(guestIn('/a')))).toBeNull();
  });
});

describe('TemplateCache', () => {
  it('copies a stored template into another data directory, as that template, passing the full check', async () => {
    const a = await builtTemplate(join(work, 'a'), 'ta');
    const cache = new TemplateCache(join(work, 'cache'));
    await cache.store('k1', a.templateDir);

    // Another data directory: the same guest image at another path.
    const bDir = join(work, 'b');
    mkdirSync(bDir, { recursive: true });
    const bGuest = guestIn(bDir);
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', bGuest.rootDisk, '64M']);
    const bTemplate = join(bDir, 'templates', 'tb');
    expect(await cache.restore('k1', bTemplate, 'tb', bGuest)).toBe(true);

    const m = await readManifest(bTemplate);
    expect(m).toMatchObject({ id: 'tb', kernel: bGuest.kernel, initramfs: bGuest.initramfs, ramId: 'forkd-ram' });
    expect(await backingFileOf(join(bTemplate, 'disk.qcow2'))).toBe(bGuest.rootDisk);
    await verifyTemplateFiles(bTemplate, m, 'full');
    // The memory file stays sparse: the copy does not write the guest's untouched RAM.
    expect(statSync(join(bTemplate, 'memory')).blocks * 512).toBeLessThan(1024 * 1024);
    // The stored entry is untouched by the restore (the original's backing file is still the first guest's).
    expect(await backingFileOf(join(work, 'cache', 'k1', 'disk.qcow2'))).toBe(a.guest.rootDisk);
  });

  it('gives the restored memory file to QEMU\'s user even when the entry is root\'s (copied with cp -r, a backup)', async () => {
    const owner = qemuProcessOwner();
    const a = await builtTemplate(join(work, 'own-a'), 'oa');
    const cache = new TemplateCache(join(work, 'own-cache'));
    await cache.store('k-own', a.templateDir);
    chownSync(join(work, 'own-cache', 'k-own', 'memory'), 0, 0);
    const bDir = join(work, 'own-b');
    mkdirSync(bDir, { recursive: true });
    const bGuest = guestIn(bDir);
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', bGuest.rootDisk, '64M']);
    expect(await cache.restore('k-own', join(bDir, 'templates', 'ob'), 'ob', bGuest)).toBe(true);
    const restored = statSync(join(bDir, 'templates', 'ob', 'memory'));
    expect({ uid: restored.uid, gid: restored.gid }).toEqual(owner ? { uid: owner.uid, gid: owner.gid } : { uid: 0, gid: 0 });
    expect(owner?.uid, 'libvirt runs QEMU as its own user on this host (the control)').not.toBe(0);
  });

  it('answers false for a key it does not hold, and leaves the target alone', async () => {
    const cache = new TemplateCache(join(work, 'cache'));
    expect(await cache.restore('missing', join(work, 'none'), 'tx', guestIn(work))).toBe(false);
    expect(() => statSync(join(work, 'none'))).toThrow();
  });

  it(`keeps at most ${TEMPLATE_CACHE_ENTRIES} entries, dropping the least recently used`, async () => {
    const cache = new TemplateCache(join(work, 'lru'));
    const src = fakeBuild(join(work, 'lru-src'), 't');
    await writeManifest(src.templateDir, { ...(await readManifest(join(work, 'cache', 'k1'))), id: 't' });
    for (let i = 0; i <= TEMPLATE_CACHE_ENTRIES; i++) await cache.store(`k${String(i).padStart(2, '0')}`, src.templateDir);
    const left = readdirSync(join(work, 'lru')).sort();
    expect(left).toHaveLength(TEMPLATE_CACHE_ENTRIES);
    expect(left).not.toContain('k00');
  });
});
