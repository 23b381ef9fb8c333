// Density: clones forked one after another from the same template, each on
// the bench's tenant network (with a NIC) and with a busybox container
// (`echo ready; exec sleep`), until 1, 8, 32, 64… are alive at once. Each join
// sends the names to every clone alive (as hostd's does), so its peers part
// grows with the step. At each step: the latency (p50 to agent ready, of the
// network join and to first output) of the clones made during that step, then,
// after the VMs settle, the drop of the host's MemAvailable since before the
// first clone and the sum of the clones' QEMU PSS. Every clone is destroyed at
// the end.

import { setTimeout as sleep } from 'node:timers/promises';
import { cloneSample, destroyClone, forkOnce, type Clone } from './forks.js';
import { load1, readPss, type Sample } from './samples.js';
import type { BenchContext, BenchTemplate } from './setup.js';
import { kibToMib, memAvailableKib } from './smaps.js';
import { percentile, round } from './stats.js';

export interface ScaleStep {
  clones: number;
  /** Clones made during this step. */
  made: number;
  fork_p50_ms: number | null;
  first_output_p50_ms: number | null;
  identity_p50_ms: number | null;
  /** The step `network` (joining the tenant network); null without a NIC. */
  network_p50_ms: number | null;
  mem_available_drop_mib: number | null;
  pss_sum_mib: number | null;
  pss_per_vm_mib: number | null;
  pss_file_sum_mib: number | null;
  /** Summed over the clones: guest RAM, TCG code buffers (absent under KVM), rest of QEMU. */
  pss_parts_sum_mib: { guest_ram: number | null; tcg_code: number | null; qemu_other: number | null } | null;
  load1: number;
  samples: Sample[];
}

export interface ScaleResult {
  steps: ScaleStep[];
  target: number;
  reached: number;
  containers: boolean;
  baseline_mem_available_mib: number;
  errors: string[];
}

export async function benchScale(ctx: BenchContext, t: BenchTemplate): Promise<ScaleResult> {
  const steps = ctx.opts.scale;
  const alive: Clone[] = [];
  const out: ScaleResult = { steps: [], target: steps[steps.length - 1] ?? 0, reached: 0, containers: true, baseline_mem_available_mib: 0, errors: [] };
  try {
    await sleep(ctx.opts.settleMs);
    const baseKib = await memAvailableKib();
    out.baseline_mem_available_mib = Math.round(kibToMib(baseKib));
    for (const target of steps) {
      const samples: Sample[] = [];
      while (alive.length < target) {
        if (ctx.cleanup.interrupted) throw new Error('interrupted');
        const t0 = Date.now();
        let vm: Clone | null = null;
        try {
          vm = await forkOnce(ctx, t);
          const returnedAt = Date.now();
          alive.push(vm);
          const s = await cloneSample(vm, ctx.busybox, ctx.net, t0, returnedAt);
          samples.push(s);
          if (alive.length === target || alive.length % 8 === 0) {
            ctx.say(`  scaling: ${alive.length}/${out.target} clones alive, last fork ready ${s.readyMs} ms${s.steps['network'] === undefined ? '' : `, network ${s.steps['network']} ms`}, first output ${s.firstOutputMs} ms (load ${s.load1})`);
          }
        } catch (err) {
          if (ctx.cleanup.interrupted) throw err;
          const msg = `clone ${alive.length + (vm ? 0 : 1)} of ${target}: ${(err as Error).message}`;
          out.errors.push(msg);
          ctx.say(`  scaling: FAILED ${msg.split('\n')[0]}`);
          out.reached = alive.length;
          out.steps.push(await stepResult(alive, samples, baseKib, ctx.opts.settleMs, ctx.opts.memoryMib));
          return out;
        }
      }
      out.steps.push(await stepResult(alive, samples, baseKib, ctx.opts.settleMs, ctx.opts.memoryMib));
      out.reached = alive.length;
      const last = out.steps[out.steps.length - 1]!;
      // The split goes to the log as well: a run cut short by its time bound still shows where each step's memory went.
      const parts = last.pss_parts_sum_mib;
      const split = parts ? ` (guest RAM ${parts.guest_ram ?? '-'}, TCG code ${parts.tcg_code ?? '-'}, QEMU rest ${parts.qemu_other ?? '-'})` : '';
      ctx.say(`  scaling: ${target} alive — fork p50 ${last.fork_p50_ms} ms, network p50 ${last.network_p50_ms ?? '-'} ms, MemAvailable drop ${last.mem_available_drop_mib} MiB, PSS sum ${last.pss_sum_mib} MiB${split}`);
    }
  } finally {
    // Destroy in batches: one at a time takes minutes with 64 (each waits for its QEMU to exit).
    for (let i = 0; i < alive.length; i += 16) {
      await Promise.all(alive.slice(i, i + 16).map((vm) => destroyClone(ctx, vm).catch((e: Error) => out.errors.push(`destroy ${vm.identity.name}: ${e.message}`))));
    }
  }
  return out;
}

async function stepResult(alive: Clone[], samples: Sample[], baseKib: number, settleMs: number, guestRamMib: number): Promise<ScaleStep> {
  await sleep(settleMs);
  const avail = await memAvailableKib();
  let pss = 0;
  let file = 0;
  let read = 0;
  const parts = { guest_ram: 0, tcg_code: 0, qemu_other: 0 };
  for (const vm of alive) {
    const p = await readPss(vm.identity.name, guestRamMib).catch(() => null);
    if (!p) continue;
    pss += p.pssMib;
    file += p.fileMib;
    parts.guest_ram += p.guestRamMib;
    parts.tcg_code += p.tcgCodeMib;
    parts.qemu_other += p.qemuOtherMib;
    read++;
  }
  const p50 = (xs: number[]): number | null => round(percentile(xs, 50));
  return {
    clones: alive.length,
    made: samples.length,
    fork_p50_ms: p50(samples.map((s) => s.readyMs)),
    first_output_p50_ms: p50(samples.map((s) => s.firstOutputMs)),
    identity_p50_ms: p50(samples.map((s) => s.identityMs)),
    network_p50_ms: p50(samples.map((s) => s.steps['network'] ?? NaN)),
    mem_available_drop_mib: round(kibToMib(baseKib - avail)),
    pss_sum_mib: read ? round(pss) : null,
    pss_per_vm_mib: read ? round(pss / read, 1) : null,
    pss_file_sum_mib: read ? round(file) : null,
    pss_parts_sum_mib: read ? { guest_ram: round(parts.guest_ram), tcg_code: round(parts.tcg_code), qemu_other: round(parts.qemu_other) } : null,
    load1: load1(),
    samples,
  };
}
