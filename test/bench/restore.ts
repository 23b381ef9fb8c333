// libvirt save/restore: one guest cold-booted by VmManager with the busybox
// image imported, saved with Domain.save (virDomainSaveFlags: full RAM and
// device state to a file, the domain stops), then restored from that file
// with Connection.restore (virDomainRestoreFlags) once per run. A restore
// brings back the *same* domain (name, UUID, MAC): it cannot make a second
// copy while the first runs, and there is no identity step. Each run gets the
// disk as it was at save time back first (not timed), so the guest's page
// cache and its disk agree.

import { copyFile, mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentClient } from '../../services/hostd/agent/agent-client.js';
import { agentRoundTrip, containerFirstOutput } from './first-output.js';
import { runLoop } from './run-loop.js';
import { load1, newModeResult, readPssAfterSettle, type ModeResult } from './samples.js';
import type { BenchContext } from './setup.js';

export async function benchRestore(ctx: BenchContext): Promise<ModeResult> {
  const r = newModeResult('restore');
  const vmId = `${ctx.names.vmIdPrefix}r`;
  const domainName = `forkd-vm-${vmId}`;
  const dir = join(ctx.workDir, 'restore');
  const saveFile = join(dir, 'saved.img');
  const pristineDisk = join(dir, 'disk-at-save.qcow2');
  await mkdir(dir, { recursive: true, mode: 0o755 });

  const destroyRestored = async (): Promise<void> => {
    const d = await ctx.conn.lookupDomainByName(domainName).catch(() => null);
    if (!d) return;
    try {
      await d.destroy().catch(() => undefined);
    } finally {
      await d.free().catch(() => undefined);
    }
  };

  try {
    ctx.say('  save/restore: cold-booting the guest to save');
    const tBoot = Date.now();
    const vm = await ctx.vms.createColdVm({ vmId, vcpus: ctx.opts.vcpus, memoryMib: ctx.opts.memoryMib });
    await vm.agent.importImage(ctx.busybox);
    const bootMs = Date.now() - tBoot;
    const tSave = Date.now();
    await vm.domain!.save(saveFile, null, 0);
    const saveMs = Date.now() - tSave;
    vm.agent.close();
    await copyFile(vm.paths.disk, pristineDisk);
    r.extra = { boot_and_import_ms: bootMs, save_ms: saveMs, save_file_mib: Math.round((await stat(saveFile)).size / 2 ** 20) };
    ctx.say(`  save/restore: saved in ${saveMs} ms (${r.extra['save_file_mib']} MiB)`);

    await runLoop(ctx, r, async (i) => {
      await copyFile(pristineDisk, vm.paths.disk);
      await rm(vm.paths.agentSocket, { force: true });
      const agent = new AgentClient(vm.paths.agentSocket);
      const last = i === ctx.opts.runs - 1;
      try {
        const t0 = Date.now();
        await ctx.conn.restore(saveFile, null, 0);
        const restoreMs = Date.now() - t0;
        const handshake = await agent.waitReady({ timeoutMs: ctx.agentTimeoutMs });
        const readyMs = Date.now() - t0;
        const c = await containerFirstOutput(agent, ctx.busybox, 'bench', { importImage: false });
        const firstOutputMs = Date.now() - t0;
        const pingMs = await agentRoundTrip(agent);
        r.samples.push({
          readyMs,
          identityMs: 0,
          firstOutputMs,
          steps: { restore: restoreMs, agentReady: readyMs - restoreMs, 'handshakeAttempts (count)': handshake.attempts, containerCreate: c.createMs, containerStart: c.startMs, firstLog: c.outputMs, pingRoundTrip: pingMs },
          load1: load1(),
        });
        if (last) {
          r.pssVmsAlive = 1;
          r.pss = await readPssAfterSettle([domainName], ctx.opts.settleMs, ctx.opts.memoryMib);
        }
      } finally {
        agent.close();
        await destroyRestored();
      }
    });
  } finally {
    await destroyRestored();
    await ctx.vms.destroy(vmId).catch((e: Error) => r.errors.push(`destroy ${vmId}: ${e.message}`));
    await rm(dir, { recursive: true, force: true });
  }
  return r;
}
