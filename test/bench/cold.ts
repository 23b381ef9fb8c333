// Cold boot: hostd's own VmManager.createColdVm (overlay, domain start, BIOS,
// kernel and init emulated, agent handshake, identity.set), then (with a NIC)
// the join to the bench's tenant network, then the busybox image imported over
// the agent channel and a container started: a fresh VM has no images, so the
// import is part of its road to first output.

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
        // As hostd's container.create: the VM joins its network before the image and the container.
        const network = ctx.net ? await ctx.net.join({ vmId, tap: vm.record.tap ?? null, agent: vm.agent, hostname: vm.record.hostname }) : {};
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
            ...network,
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
        else await destroyCold(ctx, vmId);
      }
    });
    r.pssVmsAlive = alive.length;
    r.pss = await readPssAfterSettle(alive.map((id) => `forkd-vm-${id}`), ctx.opts.settleMs, ctx.opts.memoryMib);
  } finally {
    for (const id of alive) await destroyCold(ctx, id).catch((e: Error) => r.errors.push(`destroy ${id}: ${e.message}`));
  }
  return r;
}

/** Destroys the VM (VmManager removes its tap) and gives its network address back. */
async function destroyCold(ctx: BenchContext, vmId: string): Promise<void> {
  try {
    await ctx.vms.destroy(vmId);
  } finally {
    ctx.net?.leave(vmId);
  }
}
