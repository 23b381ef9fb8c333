// Boots the accelerator probe under TCG with raw QEMU and waits for its marker.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProbeImage, type ProbeImage } from './probe.js';
import { bootQemu, type QemuBoot } from './qemu-boot.testutil.js';

describe('accelerator probe image', () => {
  let dataDir: string;
  let probe: ProbeImage;
  let vm: QemuBoot | undefined;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'forkd-probe-test-'));
    probe = await buildProbeImage(dataDir);
  });

  afterAll(async () => {
    await vm?.kill();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('is cached by content: a second build returns the same image', async () => {
    const steps: string[] = [];
    const again = await buildProbeImage(dataDir, { onProgress: (s) => steps.push(s) });
    expect(again).toEqual(probe);
    expect(steps).toEqual(['probe-cached']);
  });

  it('boots under TCG, prints FORKD-PROBE-OK and powers off', async () => {
    vm = bootQemu({ kernel: probe.kernel, initrd: probe.initramfs, append: probe.cmdline, memMiB: 128, extra: ['-nic', 'none'] });
    const { ms } = await vm.waitFor(new RegExp(probe.marker), 60_000);
    console.log(`probe: ${probe.marker} after ${ms} ms under TCG`);
    const code = await Promise.race([vm.exited, new Promise<'running'>((r) => setTimeout(() => r('running'), 20_000))]);
    expect(code).toBe(0); // poweroff -f ends QEMU cleanly
    console.log(`probe: QEMU exited after ${Date.now() - vm.startedAt} ms`);
  });
});
