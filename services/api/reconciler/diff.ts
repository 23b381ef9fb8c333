// What one host's reconciliation should do, decided without I/O: the Vm rows
// the database has for the host against the VMs the host lists (`vm.list`).
//
// - A row that says the VM runs (running, paused, stopping), unchanged since
//   before the list was taken, whose VM the host does not list → lost.
//   (A row changed after the list was taken may describe a VM the list
//   predates, so it waits for the next round. `creating` rows are left to
//   their create, which ends them running or failed.)
// - A VM the host lists with no row, or whose row has ended (gone, failed,
//   lost) → an orphan: destroyed once it has been one for `orphanGraceMs`,
//   counted from the first round that saw it or from when its row ended.
import { isVmLive, vmLifecycle, vmStateFromHost, type HostVmState, type VmState } from '../../contracts/lifecycle/index.js';

export interface VmRowFacts {
  id: string;
  state: VmState;
  updatedAt: Date;
}

export interface HostVmFacts {
  vmId: string;
  domainName: string;
  state: HostVmState;
}

export type ReconcileAction =
  | { kind: 'mark-lost'; vmId: string; from: VmState; reason: string }
  | { kind: 'destroy-orphan'; vmId: string; domainName: string; reason: string };

export interface HostDiffInput {
  hostId: string;
  /** Rows on this host that are live, plus any row whose id the host listed. */
  rows: readonly VmRowFacts[];
  hostVms: readonly HostVmFacts[];
  /** When the host's list was asked for (ms since the epoch). */
  listedAt: number;
  now: number;
  orphanGraceMs: number;
  /** vmId → when it was first seen as an orphan; carried from round to round. */
  orphanSince: ReadonlyMap<string, number>;
}

export interface HostDiff {
  actions: ReconcileAction[];
  /** The orphans still waiting out their grace (and those acted on this round), for the next round. */
  orphanSince: Map<string, number>;
}

export function diffHost(input: HostDiffInput): HostDiff {
  const listed = new Map(input.hostVms.map((v) => [v.vmId, v]));
  const rows = new Map(input.rows.map((r) => [r.id, r]));
  const actions: ReconcileAction[] = [];

  for (const row of input.rows) {
    if (listed.has(row.id) || !isVmLive(row.state)) continue;
    const target = vmStateFromHost(undefined);
    if (!vmLifecycle.can(row.state, target)) continue; // creating: its create decides
    if (row.updatedAt.getTime() > input.listedAt) continue; // changed after the list: next round
    actions.push({ kind: 'mark-lost', vmId: row.id, from: row.state, reason: `host ${input.hostId} no longer runs it (not in its vm.list)` });
  }

  const orphanSince = new Map<string, number>();
  for (const vm of input.hostVms) {
    const row = rows.get(vm.vmId);
    if (row && isVmLive(row.state)) continue;
    const seen = input.orphanSince.get(vm.vmId) ?? input.now;
    const since = row ? Math.min(seen, row.updatedAt.getTime()) : seen;
    orphanSince.set(vm.vmId, since);
    if (input.now - since < input.orphanGraceMs) continue;
    actions.push({
      kind: 'destroy-orphan', vmId: vm.vmId, domainName: vm.domainName,
      reason: row ? `its row is ${row.state}` : 'no row in the database',
    });
  }
  return { actions, orphanSince };
}
