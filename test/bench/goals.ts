// The issue's goals, judged only from numbers this run measured. A goal whose
// inputs are missing (mode not run, mode failed) is `null`: not met, not missed.

export interface GoalInputs {
  coldReadyP50?: number | null;
  forkReadyP50?: number | null;
  poolReadyP50?: number | null;
  /** Ready-pool mode (FORKD_POOL_MODE=ready): the take, and the take through identity.set. */
  readyPoolReadyP50?: number | null;
  readyPoolIdentityAppliedP50?: number | null;
  coldPssMib?: number | null;
  forkPssMib?: number | null;
  /** The same without TCG's translated-code buffer (what KVM would not have). */
  coldPssNoTcgMib?: number | null;
  forkPssNoTcgMib?: number | null;
  /** Per-VM PSS at the largest scaling step (many siblings share the template's pages). */
  scalePssPerVmMib?: number | null;
  scaleTarget?: number | null;
  scaleReached?: number | null;
  /** Per mode that ran: the p50 of its network step (null: its VMs joined no network) and of first output. */
  networkP50?: ReadonlyArray<{ label: string; networkP50: number | null; firstOutputP50: number | null }>;
}

export interface Goal {
  id: 'fork-10x' | 'pool-50ms' | 'pool-50ms-ready' | 'pss-half' | 'density-64' | 'network-cost';
  goal: string;
  measured: string;
  met: boolean | null;
  /** A cost shown beside the goals with no threshold to meet (met is null). */
  reportOnly?: boolean;
}

const ok = (x: number | null | undefined): x is number => typeof x === 'number' && Number.isFinite(x);

export function evaluateGoals(g: GoalInputs): Goal[] {
  const goals: Goal[] = [];

  if (ok(g.coldReadyP50) && ok(g.forkReadyP50) && g.forkReadyP50 > 0) {
    const x = g.coldReadyP50 / g.forkReadyP50;
    goals.push({ id: 'fork-10x', goal: 'fork ≥ 10× faster than cold boot to agent-ready (p50)', measured: `${x.toFixed(1)}× (${Math.round(g.coldReadyP50)} ms vs ${Math.round(g.forkReadyP50)} ms)`, met: x >= 10 });
  } else {
    goals.push({ id: 'fork-10x', goal: 'fork ≥ 10× faster than cold boot to agent-ready (p50)', measured: 'not measured', met: null });
  }

  if (ok(g.poolReadyP50)) {
    const over = g.poolReadyP50 / 50;
    goals.push({
      id: 'pool-50ms',
      goal: 'pool take ≤ 50 ms p50 to agent-ready',
      measured: `${Math.round(g.poolReadyP50)} ms${g.poolReadyP50 > 50 ? ` (${over.toFixed(1)}× the goal)` : ''}`,
      met: g.poolReadyP50 <= 50,
    });
  } else {
    goals.push({ id: 'pool-50ms', goal: 'pool take ≤ 50 ms p50 to agent-ready', measured: 'not measured', met: null });
  }

  // Only where the ready-pool mode ran: its agent answered before the request, so
  // the time to identity applied is shown beside it.
  if (ok(g.readyPoolReadyP50)) {
    const applied = ok(g.readyPoolIdentityAppliedP50) ? `; ${Math.round(g.readyPoolIdentityAppliedP50)} ms to identity applied` : '';
    goals.push({
      id: 'pool-50ms-ready',
      goal: 'pool take ≤ 50 ms p50 to agent-ready, ready clones (FORKD_POOL_MODE=ready)',
      measured: `${Math.round(g.readyPoolReadyP50)} ms (agent answered before the take)${applied}`,
      met: g.readyPoolReadyP50 <= 50,
    });
  }

  if (ok(g.coldPssMib) && ok(g.forkPssMib) && g.coldPssMib > 0) {
    const ratio = g.forkPssMib / g.coldPssMib;
    const scale = ok(g.scalePssPerVmMib) ? `; ${g.scalePssPerVmMib.toFixed(1)} MiB per clone with ${g.scaleReached} alive` : '';
    const noTcg =
      ok(g.coldPssNoTcgMib) && ok(g.forkPssNoTcgMib) && g.coldPssNoTcgMib > 0
        ? `; without TCG's code buffer ${g.forkPssNoTcgMib.toFixed(1)} vs ${g.coldPssNoTcgMib.toFixed(1)} MiB (${((g.forkPssNoTcgMib / g.coldPssNoTcgMib) * 100).toFixed(0)} %)`
        : '';
    goals.push({
      id: 'pss-half',
      goal: 'PSS per idle forked VM ≤ ½ of a cold-booted VM',
      measured: `${g.forkPssMib.toFixed(1)} vs ${g.coldPssMib.toFixed(1)} MiB (${(ratio * 100).toFixed(0)} %)${noTcg}${scale}`,
      met: ratio <= 0.5,
    });
  } else {
    goals.push({ id: 'pss-half', goal: 'PSS per idle forked VM ≤ ½ of a cold-booted VM', measured: 'not measured', met: null });
  }

  if (ok(g.scaleTarget) && g.scaleTarget > 0 && ok(g.scaleReached)) {
    goals.push({
      id: 'density-64',
      goal: '64 concurrent forked VMs with a container each',
      measured: `${g.scaleReached} of ${g.scaleTarget} alive, each with a container`,
      met: g.scaleTarget >= 64 ? g.scaleReached >= 64 : null,
    });
  } else {
    goals.push({ id: 'density-64', goal: '64 concurrent forked VMs with a container each', measured: 'not measured', met: null });
  }

  // No goal was set for it: what joining the tenant network adds to first output, per mode. Only where a VM joined one.
  const net = (g.networkP50 ?? []).filter((m): m is { label: string; networkP50: number; firstOutputP50: number | null } => ok(m.networkP50));
  if (net.length > 0) {
    goals.push({
      id: 'network-cost',
      goal: 'network step per take (tap onto the bridge ∥ identity.set network, then network.hosts), p50, part of first output',
      measured: net.map((m) => `${m.label} ${Math.round(m.networkP50)} ms${ok(m.firstOutputP50) && m.firstOutputP50 > 0 ? ` (${((m.networkP50 / m.firstOutputP50) * 100).toFixed(0)} % of first output)` : ''}`).join('; '),
      met: null,
      reportOnly: true,
    });
  }
  return goals;
}

export const verdict = (met: boolean | null): string => (met === null ? 'n/a' : met ? 'met' : 'missed');
