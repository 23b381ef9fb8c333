import { mkdtemp, open, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ForkdError } from '../../contracts/errors.js';
import {
  assertTemplateCompatible,
  isTemplateCompatible,
  parseManifest,
  readManifest,
  recordFile,
  sampledSha256,
  TEMPLATE_FILES,
  TEMPLATE_FORMAT_VERSION,
  verifyTemplateFiles,
  writeManifest,
  type TemplateManifest,
} from './template-manifest.js';

let dir: string;

async function fill(path: string, size: number, seed: number): Promise<void> {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed) & 0xff;
  await writeFile(path, b);
}

async function makeTemplate(): Promise<TemplateManifest> {
  await fill(join(dir, TEMPLATE_FILES.memory), 8 << 20, 1);
  await fill(join(dir, TEMPLATE_FILES.state), 300_000, 2);
  await fill(join(dir, TEMPLATE_FILES.disk), 1 << 20, 3);
  const m: TemplateManifest = {
    formatVersion: TEMPLATE_FORMAT_VERSION,
    id: 't1',
    imageId: 'img1',
    kernel: '/k',
    initramfs: '/i',
    cmdline: 'console=ttyS0',
    vcpus: 1,
    memoryMib: 8,
    accel: 'tcg',
    qemuVersion: '7.2.22',
    machine: 'pc-i440fx-7.2',
    ramId: 'forkd-ram',
    network: null,
    createdAt: new Date(0).toISOString(),
    files: {
      memory: await recordFile(join(dir, TEMPLATE_FILES.memory)),
      state: await recordFile(join(dir, TEMPLATE_FILES.state)),
      disk: await recordFile(join(dir, TEMPLATE_FILES.disk)),
    },
  };
  await writeManifest(dir, m);
  return m;
}

async function poke(path: string, offset: number): Promise<void> {
  const fh = await open(path, 'r+');
  await fh.write(Buffer.from([0xde, 0xad]), 0, 2, offset);
  await fh.close();
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return err instanceof ForkdError ? err.code : String(err);
  }
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'forkd-manifest-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('template manifest', () => {
  it('round-trips through disk', async () => {
    const m = await makeTemplate();
    expect(await readManifest(dir)).toEqual(m);
  });

  it('accepts intact files in both modes', async () => {
    const m = await makeTemplate();
    await verifyTemplateFiles(dir, m, 'fast');
    await verifyTemplateFiles(dir, m, 'full');
  });

  it('rejects a missing memory file', async () => {
    const m = await makeTemplate();
    await rm(join(dir, TEMPLATE_FILES.memory));
    await expect(verifyTemplateFiles(dir, m, 'fast')).rejects.toMatchObject({ code: 'ERR_TEMPLATE_CORRUPT', detail: { file: 'memory' } });
  });

  it('rejects any changed byte of the state file, even in fast mode', async () => {
    const m = await makeTemplate();
    await poke(join(dir, TEMPLATE_FILES.state), 123_457);
    expect(await codeOf(verifyTemplateFiles(dir, m, 'fast'))).toBe('ERR_TEMPLATE_CORRUPT');
  });

  it('rejects a truncated file by its size', async () => {
    const m = await makeTemplate();
    await truncate(join(dir, TEMPLATE_FILES.disk), 1000);
    await expect(verifyTemplateFiles(dir, m, 'fast')).rejects.toThrow(/disk file has 1000 bytes/);
  });

  it('fast mode catches damage in a sampled chunk; full mode catches it anywhere', async () => {
    const m = await makeTemplate();
    const mem = join(dir, TEMPLATE_FILES.memory);
    await poke(mem, 0); // the first chunk is always sampled
    expect(await codeOf(verifyTemplateFiles(dir, m, 'fast'))).toBe('ERR_TEMPLATE_CORRUPT');
    await fill(mem, 8 << 20, 1);
    await poke(mem, 20_000); // between the first two samples (~32 KiB apart)
    expect(await codeOf(verifyTemplateFiles(dir, m, 'fast'))).toBe('ok');
    expect(await codeOf(verifyTemplateFiles(dir, m, 'full'))).toBe('ERR_TEMPLATE_CORRUPT');
  });

  it('samples small files whole', async () => {
    const p = join(dir, 'small');
    await writeFile(p, 'abc');
    const a = await sampledSha256(p);
    await writeFile(p, 'abd');
    expect(await sampledSha256(p)).not.toBe(a);
  });

  it('reports a malformed or missing manifest as corrupt', async () => {
    expect(await codeOf(readManifest(dir))).toBe('ERR_TEMPLATE_CORRUPT');
    expect(() => parseManifest('{')).toThrow(/not JSON/);
    expect(() => parseManifest('{"formatVersion":1}')).toThrow(ForkdError);
  });
});

describe('isTemplateCompatible', () => {
  const m = { formatVersion: TEMPLATE_FORMAT_VERSION, id: 't', accel: 'tcg', qemuVersion: '7.2.22', machine: 'pc-i440fx-7.2' } as TemplateManifest;
  const host = { accel: 'tcg', qemuVersion: '7.2.22', machine: 'pc-i440fx-7.2' } as const;

  it('accepts a template built on this host', () => {
    expect(isTemplateCompatible(m, host)).toEqual({ ok: true });
  });

  it('calls a template stale when accel, QEMU, machine or format differ', () => {
    expect(isTemplateCompatible(m, { ...host, accel: 'kvm' })).toMatchObject({ ok: false, reason: expect.stringContaining('kvm') });
    expect(isTemplateCompatible(m, { ...host, qemuVersion: '8.2.0' }).ok).toBe(false);
    expect(isTemplateCompatible(m, { ...host, machine: 'q35' }).ok).toBe(false);
    expect(isTemplateCompatible({ ...m, formatVersion: 0 }, host).ok).toBe(false);
    expect(() => assertTemplateCompatible(m, { ...host, accel: 'kvm' })).toThrow(expect.objectContaining({ code: 'ERR_TEMPLATE_STALE' }));
  });

  it('calls a template stale when its NIC is not the one the host gives VMs (a template from before NICs has none)', () => {
    const tap = { ...m, network: 'tap' } as TemplateManifest;
    expect(isTemplateCompatible(tap, { ...host, network: 'tap' })).toEqual({ ok: true });
    expect(isTemplateCompatible({ ...m, network: null }, { ...host, network: null })).toEqual({ ok: true });
    expect(isTemplateCompatible({ ...m, network: null }, { ...host, network: 'tap' })).toMatchObject({ ok: false, reason: expect.stringContaining('no NIC') });
    expect(isTemplateCompatible(tap, { ...host, network: null }).ok).toBe(false);
    // A template from before tenant networks (QEMU user networking) is stale: its clones would reach the host.
    expect(isTemplateCompatible({ ...m, network: 'user' as never }, { ...host, network: 'tap' }).ok).toBe(false);
    // Without a network in the host info only the NIC-independent checks apply.
    expect(isTemplateCompatible({ ...m, network: null }, host).ok).toBe(true);
  });
});
