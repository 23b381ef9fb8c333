// The benchmark's report: one JSON document (var/bench/fork.json) and the
// tables printed from it, as text for the terminal and as Markdown for
// docs/benchmarks.md. Everything here is pure.

import type { Mode } from './args.js';
import { evaluateGoals, verdict, type Goal } from './goals.js';
import type { ModeJson } from './samples.js';
import type { ScaleResult } from './scale.js';
import type { HostFacts } from './setup.js';
import { formatMarkdownTable, formatTable, type Cell } from './table.js';

export interface BenchReport {
  benchmark: 'fork';
  date: string;
  git: { commit: string | null; dirty: boolean | null };
  accel: string;
  accel_reason: string;
  host: HostFacts & { loadavgEnd: number[] };
  guest: { image: string; kernel: string; memory_mib: number; vcpus: number; nic: string };
  /** The tenant network the VMs joined (null: no NIC); create_ms: its namespace and bridge, made once before the runs. */
  network: { id: string; subnet: string; internal: boolean; create_ms: number | null } | null;
  runs: number;
  quick: boolean;
  duration_s: number;
  template: { build_ms: Record<string, number> } | null;
  modes: Partial<Record<Mode, ModeJson>>;
  scaling: ScaleResult | null;
  goals: Goal[];
  notes: string[];
}

const MODE_ORDER: Mode[] = ['cold', 'restore', 'fork', 'pool', 'ready-pool'];

export function goalsOf(r: Pick<BenchReport, 'modes' | 'scaling'>): Goal[] {
  const last = r.scaling?.steps[r.scaling.steps.length - 1];
  return evaluateGoals({
    coldReadyP50: r.modes.cold?.p50_ms ?? null,
    forkReadyP50: r.modes.fork?.p50_ms ?? null,
    poolReadyP50: r.modes.pool?.p50_ms ?? null,
    readyPoolReadyP50: r.modes['ready-pool']?.p50_ms ?? null,
    readyPoolIdentityAppliedP50: r.modes['ready-pool']?.identity_applied_p50_ms ?? null,
    networkP50: MODE_ORDER.flatMap((m) => {
      const j = r.modes[m];
      return j ? [{ label: j.label, networkP50: j.network_p50_ms ?? null, firstOutputP50: j.first_output_p50_ms }] : [];
    }),
    coldPssMib: r.modes.cold?.pss_mib ?? null,
    forkPssMib: r.modes.fork?.pss_mib ?? null,
    coldPssNoTcgMib: noTcg(r.modes.cold),
    forkPssNoTcgMib: noTcg(r.modes.fork),
    scalePssPerVmMib: last?.pss_per_vm_mib ?? null,
    scaleTarget: r.scaling?.target ?? null,
    scaleReached: r.scaling?.reached ?? null,
  });
}

function noTcg(j: ModeJson | undefined): number | null {
  if (!j || j.pss_mib === null || j.pss_parts_mib.tcg_code === null) return null;
  return j.pss_mib - j.pss_parts_mib.tcg_code;
}

type Table = { headers: string[]; rows: Cell[][] };

export function modeTable(r: Pick<BenchReport, 'modes'>): Table {
  const headers = ['mode', 'runs', 'ready p50 ms', 'ready p95 ms', 'first output p50 ms', 'first output p95 ms', 'identity p50 ms', 'identity applied p50 ms', 'network p50 ms', 'PSS/VM MiB', 'guest RAM', 'TCG code', 'QEMU rest', 'VMs alive'];
  const rows: Cell[][] = [];
  for (const m of MODE_ORDER) {
    const j = r.modes[m];
    if (!j) continue;
    const p = j.pss_parts_mib;
    rows.push([j.label, j.runs, j.p50_ms, j.p95_ms, j.first_output_p50_ms, j.first_output_p95_ms, j.identity_p50_ms, j.identity_applied_p50_ms ?? null, j.network_p50_ms ?? null, j.pss_mib, p?.guest_ram, p?.tcg_code, p?.qemu_other, j.pss_vms_alive]);
  }
  return { headers, rows };
}

export function stepsTable(r: Pick<BenchReport, 'modes'>): Table {
  const keys = [...new Set(MODE_ORDER.flatMap((m) => Object.keys(r.modes[m]?.steps_p50_ms ?? {})))];
  const headers = ['step p50 ms', ...MODE_ORDER.filter((m) => r.modes[m]).map((m) => r.modes[m]!.label)];
  const rows = keys.map((k) => [k, ...MODE_ORDER.filter((m) => r.modes[m]).map((m) => r.modes[m]!.steps_p50_ms[k] ?? null)]);
  return { headers, rows };
}

export function scaleTable(s: ScaleResult): Table {
  // Where each clone's memory goes (issue 9's density goal: MemAvailable drop ≤ 64 MiB per clone): guest pages, TCG's code buffer, the rest of QEMU.
  const headers = ['clones alive', 'made', 'fork ready p50 ms', 'network p50 ms', 'first output p50 ms', 'MemAvailable drop MiB', 'drop/clone MiB', 'PSS sum MiB', 'PSS/VM MiB', 'guest RAM sum MiB', 'TCG code sum MiB', 'QEMU rest sum MiB', 'load1'];
  const rows = s.steps.map((x) => [
    x.clones, x.made, x.fork_p50_ms, x.network_p50_ms ?? null, x.first_output_p50_ms, x.mem_available_drop_mib,
    x.clones > 0 && x.mem_available_drop_mib !== null ? Math.round(x.mem_available_drop_mib / x.clones) : null,
    x.pss_sum_mib, x.pss_per_vm_mib, x.pss_parts_sum_mib?.guest_ram, x.pss_parts_sum_mib?.tcg_code, x.pss_parts_sum_mib?.qemu_other, x.load1,
  ]);
  return { headers, rows };
}

export function goalsTable(goals: Goal[]): Table {
  return { headers: ['goal', 'measured', 'verdict'], rows: goals.map((g) => [g.goal, g.measured, g.reportOnly ? 'report only' : verdict(g.met)]) };
}

export function headline(r: BenchReport): string {
  const h = r.host;
  return (
    `forkd bench fork — ${r.date}, commit ${r.git.commit?.slice(0, 12) ?? '?'}${r.git.dirty ? ' (dirty)' : ''}\n` +
    `accelerator ${r.accel} (${r.accel_reason}); ${h.cpus} CPU(s) ${h.cpuModel}, ${Math.round(h.memTotalMib / 1024)} GiB, ` +
    `Linux ${h.kernel}, QEMU ${h.qemu}, libvirt ${h.libvirt}, Node ${h.node}; load ${h.loadavgStart.join(' ')} → ${h.loadavgEnd.join(' ')}\n` +
    `guest: image ${r.guest.image.slice(0, 12)}, ${r.guest.memory_mib} MiB, ${r.guest.vcpus} vCPU, NIC ${r.guest.nic}; ${r.runs} runs per mode${r.quick ? ' (quick)' : ''}; ${r.duration_s} s in all\n`
  );
}

function render(r: BenchReport, fmt: (headers: readonly string[], rows: readonly (readonly Cell[])[]) => string, heading: (t: string) => string): string {
  const parts: string[] = [];
  const t = modeTable(r);
  parts.push(heading('Latency (request → agent ready, → first container output) and idle PSS'), fmt(t.headers, t.rows));
  const st = stepsTable(r);
  if (st.rows.length > 0) parts.push(heading('Where the time goes (p50 of each step, ms)'), fmt(st.headers, st.rows));
  if (r.scaling) {
    const sc = scaleTable(r.scaling);
    parts.push(heading(`Concurrent clones (each with a busybox container; baseline MemAvailable ${r.scaling.baseline_mem_available_mib} MiB)`), fmt(sc.headers, sc.rows));
  }
  const g = goalsTable(r.goals);
  parts.push(heading('Goals'), fmt(g.headers, g.rows));
  const errors = [
    ...MODE_ORDER.flatMap((m) => (r.modes[m]?.errors ?? []).map((e) => `${m}: ${e}`)),
    ...(r.scaling?.errors ?? []).map((e) => `scaling: ${e}`),
  ];
  if (errors.length > 0) parts.push(heading('Errors'), errors.map((e) => `- ${e}`).join('\n') + '\n');
  return parts.join('\n');
}

export function renderText(r: BenchReport): string {
  return headline(r) + '\n' + render(r, formatTable, (t) => `${t}\n`);
}

export function renderMarkdown(r: BenchReport): string {
  return render(r, formatMarkdownTable, (t) => `**${t}**\n`);
}
