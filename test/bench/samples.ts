// One measured run of a mode, a mode's summary, and the PSS reading shared by
// the modes. Times are wall-clock milliseconds from the request (the call that
// makes the VM) to the event.

import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Mode } from './args.js';
import { domainPss, domainPssParts, kibToMib } from './smaps.js';
import { p50ByKey, round, summarize, type Summary } from './stats.js';

export interface Sample {
  /** Request → the agent answered (hello + ping). */
  readyMs: number;
  /** identity.set after ready (hostname, machine-id, entropy, clock); 0 where the mode has none. */
  identityMs: number;
  /** Request → first stdout bytes of a new container on the host. */
  firstOutputMs: number;
  /** The steps' own timings (from VmManager / the fork's ForkTimings / the network join / ours). */
  steps: Record<string, number>;
  /** 1-minute load average when the run ended: how busy the shared host was. */
  load1: number;
  /** Set when a pool take found no ready shell and forked cold. */
  note?: string;
}

export interface PssReading {
  vm: string;
  /** Sum of Pss: in smaps_rollup. */
  pssMib: number;
  anonMib: number;
  fileMib: number;
  /** From the full smaps, by mapping: guest RAM, TCG's translated-code buffer (none under KVM), the rest of QEMU. */
  guestRamMib: number;
  tcgCodeMib: number;
  qemuOtherMib: number;
}

export interface ModeResult {
  mode: Mode;
  label: string;
  samples: Sample[];
  pss: PssReading[];
  /** VMs of this mode alive (idle, container running) when PSS was read. */
  pssVmsAlive: number;
  errors: string[];
  /** Mode-specific facts (save time and file size, pool fallbacks…). */
  extra: Record<string, unknown>;
}

export const MODE_LABELS: Record<Mode, string> = {
  cold: 'cold boot',
  restore: 'save/restore',
  fork: 'fork',
  pool: 'pool take',
  'ready-pool': 'ready-pool take',
};

export function newModeResult(mode: Mode): ModeResult {
  return { mode, label: MODE_LABELS[mode], samples: [], pss: [], pssVmsAlive: 0, errors: [], extra: {} };
}

export const load1 = (): number => Math.round(loadavg()[0]! * 100) / 100;

/** Waits `settleMs` so the VMs go idle, then reads each one's QEMU PSS. */
export async function readPssAfterSettle(domainNames: readonly string[], settleMs: number, guestRamMib: number): Promise<PssReading[]> {
  if (domainNames.length === 0) return [];
  await sleep(settleMs);
  const out: PssReading[] = [];
  for (const vm of domainNames) out.push(await readPss(vm, guestRamMib));
  return out;
}

export async function readPss(vm: string, guestRamMib: number): Promise<PssReading> {
  const p = await domainPss(vm);
  const parts = await domainPssParts(vm, guestRamMib);
  const mib = (kib: number): number => round(kibToMib(kib), 1)!;
  return {
    vm,
    pssMib: mib(p.pssKib),
    anonMib: mib(p.anonKib),
    fileMib: mib(p.fileKib),
    guestRamMib: mib(parts.guestRamKib),
    tcgCodeMib: mib(parts.tcgCodeKib),
    qemuOtherMib: mib(parts.otherKib),
  };
}

type Rounded = number | null;

export interface SummaryJson {
  n: number;
  p50: Rounded;
  p95: Rounded;
  min: Rounded;
  max: Rounded;
  mean: Rounded;
}

/** What a mode contributes to var/bench/fork.json: p50_ms/p95_ms are to agent-ready. */
export interface ModeJson {
  label: string;
  runs: number;
  p50_ms: Rounded;
  p95_ms: Rounded;
  first_output_p50_ms: Rounded;
  first_output_p95_ms: Rounded;
  identity_p50_ms: Rounded;
  /** Request → identity applied (ready + identity.set, per run). */
  identity_applied_p50_ms: Rounded;
  /** The step `network` (joining the tenant network, part of first output); null where no VM joined one. */
  network_p50_ms: Rounded;
  pss_mib: Rounded;
  /** p50 of each PSS part (guest RAM, TCG code buffer, rest of QEMU). */
  pss_parts_mib: { guest_ram: Rounded; tcg_code: Rounded; qemu_other: Rounded };
  pss_vms_alive: number;
  pss_samples: PssReading[];
  ready_ms: SummaryJson;
  first_output_ms: SummaryJson;
  steps_p50_ms: Record<string, Rounded>;
  load1_p50: Rounded;
  errors: string[];
  samples: Sample[];
  [extra: string]: unknown;
}

/** The JSON a mode contributes to var/bench/fork.json (rounded; raw samples included). */
export function modeJson(r: ModeResult): ModeJson {
  const ready = summarize(r.samples.map((s) => s.readyMs));
  const first = summarize(r.samples.map((s) => s.firstOutputMs));
  const pss = summarize(r.pss.map((p) => p.pssMib));
  const sum = (s: Summary): SummaryJson => ({ n: s.n, p50: round(s.p50), p95: round(s.p95), min: round(s.min), max: round(s.max), mean: round(s.mean) });
  return {
    label: r.label,
    runs: r.samples.length,
    p50_ms: round(ready.p50),
    p95_ms: round(ready.p95),
    first_output_p50_ms: round(first.p50),
    first_output_p95_ms: round(first.p95),
    identity_p50_ms: round(summarize(r.samples.map((s) => s.identityMs)).p50),
    identity_applied_p50_ms: round(summarize(r.samples.map((s) => s.readyMs + s.identityMs)).p50),
    network_p50_ms: round(summarize(r.samples.map((s) => s.steps['network'] ?? NaN)).p50),
    pss_mib: round(pss.p50, 1),
    pss_parts_mib: {
      guest_ram: round(summarize(r.pss.map((p) => p.guestRamMib)).p50, 1),
      tcg_code: round(summarize(r.pss.map((p) => p.tcgCodeMib)).p50, 1),
      qemu_other: round(summarize(r.pss.map((p) => p.qemuOtherMib)).p50, 1),
    },
    pss_vms_alive: r.pssVmsAlive,
    pss_samples: r.pss,
    ready_ms: sum(ready),
    first_output_ms: sum(first),
    steps_p50_ms: Object.fromEntries(Object.entries(p50ByKey(r.samples.map((s) => s.steps))).map(([k, v]) => [k, round(v)])),
    load1_p50: round(summarize(r.samples.map((s) => s.load1)).p50, 2),
    errors: r.errors,
    ...r.extra,
    samples: r.samples,
  };
}

/** A pool take's shell steps happened ahead of the request: name them so (a ready-pool take's incoming, resume and agent handshake too). */
export function renameAheadSteps(steps: Record<string, number>, ahead: readonly string[] = ['overlay', 'domainStart']): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(steps)) {
    if (k === 'verify') continue; // the pool does not re-verify on take
    out[ahead.includes(k) ? `${k} (ahead of take)` : k] = v;
  }
  return out;
}
