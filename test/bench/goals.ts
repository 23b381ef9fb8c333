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
}

export interface Goal {
  id: 'fork-10x' | 'pool-50ms' | 'pool-50ms-ready' | 'pss-half' | 'density-64';
  goal: string;
  measured: string;
  met: boolean | null;
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
  return goals;
}

export const verdict = (met: boolean | null): string => (met === null ? 'n/a' : met ? 'met' : 'missed');
