// Cold boot: hostd's own VmManager.createColdVm (overlay, domain start, BIOS,
// kernel and init emulated, agent handshake, identity.set), then the busybox
// image imported over the agent channel and a container started: a fresh VM
// has no images, so the import is part of its road to first output.

import type { BenchContext } from './setup.js';
import { agentRoundTrip, containerFirstOutput } from './first-output.js';
import { load1, newModeResult, readPssAfterSettle, type ModeResult } from './samples.js';
import { runLoop } from './run-loop.js';

export async function benchCold(ctx: BenchContext): Promise<ModeResult> {
  const r = newModeResult('cold');
  const keep = Math.min(ctx.opts.pssVms, ctx.opts.runs);
  const alive: string[] = [];
  try {
    await runLoop(ctx, r, async (i) => {
      const vmId = `${ctx.names.vmIdPrefix}c${i}`;
      const t0 = Date.now();
      const vm = await ctx.vms.createColdVm({ vmId, vcpus: ctx.opts.vcpus, memoryMib: ctx.opts.memoryMib });
      try {
        const returned = Date.now() - t0;
        const t = vm.record.timings;
        const identityMs = t['identityMs'] ?? 0;
        const readyMs = returned - identityMs - (t['recordMs'] ?? 0);
        const c = await containerFirstOutput(vm.agent, ctx.busybox, 'bench', { importImage: true });
        const firstOutputMs = Date.now() - t0;
        const pingMs = await agentRoundTrip(vm.agent);
        r.samples.push({
          readyMs,
          identityMs,
          firstOutputMs,
          steps: {
            overlay: t['overlayMs'] ?? NaN,
            domainStart: t['vmStartMs'] ?? NaN,
            agentReady: t['agentReadyMs'] ?? NaN,
            identity: identityMs,
            imageImport: c.importMs,
            containerCreate: c.createMs,
            containerStart: c.startMs,
            firstLog: c.outputMs,
            pingRoundTrip: pingMs,
          },
          load1: load1(),
        });
      } finally {
        if (i >= ctx.opts.runs - keep) alive.push(vmId);
        else await ctx.vms.destroy(vmId);
      }
    });
    r.pssVmsAlive = alive.length;
    r.pss = await readPssAfterSettle(alive.map((id) => `forkd-vm-${id}`), ctx.opts.settleMs, ctx.opts.memoryMib);
  } finally {
    for (const id of alive) await ctx.vms.destroy(id).catch((e: Error) => r.errors.push(`destroy ${id}: ${e.message}`));
  }
  return r;
}
