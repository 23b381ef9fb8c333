// The fork modes, on hostd's fork modules and the bench's app template:
//   fork      forkFromTemplate: verify (fast), overlay, libvirt domain start in
//             -incoming defer, device state in, resume, agent, identity.set
//   pool take createForkPool (size 1, as FORKD_POOL_SIZE's default): take()
//             finishes a shell already waiting in -incoming defer; the pool
//             refills in the background after each take (as in hostd), and each
//             run waits for a ready shell first.
//   ready-pool the same with mode 'ready' (FORKD_POOL_MODE=ready): the pool has
//             already loaded the state, resumed the clone and had its agent
//             answer; take() only runs identity.set. "ready" is the take
//             without identity.set (the agent answered before the request);
//             "identity applied" adds identity.set.
// In every mode (and the scaling step) the clone then joins the bench's tenant
// network (with a NIC), as hostd does before a container: part of first output.

import { setTimeout as sleep } from 'node:timers/promises';
import type { AgentClient, HostImage } from '../../services/hostd/agent/agent-client.js';
import { createForkPool } from '../../services/hostd/fork/fork-pool.js';
import { forkFromTemplate, type ForkedVm } from '../../services/hostd/fork/fork.js';
import { agentRoundTrip, containerFirstOutput } from './first-output.js';
import type { BenchNetwork } from './network.js';
import { runLoop } from './run-loop.js';
import { load1, newModeResult, readPssAfterSettle, renameAheadSteps, type ModeResult, type Sample } from './samples.js';
import { agentAttempts, agentOf, type BenchContext, type BenchTemplate } from './setup.js';

export type Clone = ForkedVm<AgentClient>;

export function forkOnce(ctx: BenchContext, t: BenchTemplate): Promise<Clone> {
  return forkFromTemplate({
    conn: ctx.fc,
    template: t.template,
    host: t.host,
    runDir: `${ctx.workDir}/run`,
    hostId: ctx.hostId,
    namePrefix: ctx.names.forkPrefix,
    agent: agentOf,
    agentTimeoutMs: ctx.agentTimeoutMs,
  });
}

/** Times a finished clone (made at t0) to first output of a new container, joining it to `net` first (when there is one). */
export async function cloneSample(vm: Clone, image: HostImage, net: BenchNetwork | null, t0: number, returnedAt: number): Promise<Sample> {
  const ft = vm.timings;
  const readyMs = returnedAt - t0 - ft.identityMs;
  const network = net ? await net.join({ vmId: vm.identity.id, tap: vm.tap, agent: vm.agent!, hostname: vm.identity.hostname }) : {};
  const c = await containerFirstOutput(vm.agent!, image, 'bench', { importImage: false }).catch((e: Error) => {
    throw new Error(`container in ${vm.identity.name}: ${e.message}`);
  });
  const firstOutputMs = Date.now() - t0;
  const pingMs = await agentRoundTrip(vm.agent!);
  return {
    readyMs,
    identityMs: ft.identityMs,
    firstOutputMs,
    steps: {
      verify: ft.verifyMs,
      overlay: ft.overlayMs,
      domainStart: ft.domainStartMs,
      incoming: ft.incomingMs,
      resume: ft.resumeMs,
      agentReady: ft.agentReadyMs,
      'handshakeAttempts (count)': agentAttempts.get(vm.agentSocket) ?? NaN,
      identity: ft.identityMs,
      ...network,
      containerCreate: c.createMs,
      containerStart: c.startMs,
      firstLog: c.outputMs,
      pingRoundTrip: pingMs,
    },
    load1: load1(),
  };
}

export async function benchFork(ctx: BenchContext, t: BenchTemplate): Promise<ModeResult> {
  const r = newModeResult('fork');
  const keep = Math.min(ctx.opts.pssVms, ctx.opts.runs);
  const alive: Clone[] = [];
  try {
    await runLoop(ctx, r, async (i) => {
      const t0 = Date.now();
      const vm = await forkOnce(ctx, t);
      try {
        r.samples.push(await cloneSample(vm, ctx.busybox, ctx.net, t0, Date.now()));
      } finally {
        if (i >= ctx.opts.runs - keep) alive.push(vm);
        else await destroyClone(ctx, vm);
      }
    });
    r.pssVmsAlive = alive.length;
    r.pss = await readPssAfterSettle(alive.map((v) => v.identity.name), ctx.opts.settleMs, ctx.opts.memoryMib);
  } finally {
    for (const vm of alive) await destroyClone(ctx, vm).catch((e: Error) => r.errors.push(`destroy ${vm.identity.name}: ${e.message}`));
  }
  return r;
}

/** Destroys the clone (its tap goes with it) and gives its network address back. */
export async function destroyClone(ctx: Pick<BenchContext, 'net'>, vm: Clone): Promise<void> {
  try {
    await vm.destroy();
  } finally {
    ctx.net?.leave(vm.identity.id);
  }
}

export async function benchPool(ctx: BenchContext, t: BenchTemplate, mode: 'shell' | 'ready' = 'shell'): Promise<ModeResult> {
  const r = newModeResult(mode === 'ready' ? 'ready-pool' : 'pool');
  const keep = Math.min(ctx.opts.pssVms, ctx.opts.runs);
  const alive: Clone[] = [];
  const pool = createForkPool({
    conn: ctx.fc,
    template: t.template,
    runDir: `${ctx.workDir}/run`,
    hostId: ctx.hostId,
    namePrefix: ctx.names.forkPrefix,
    size: 1,
    mode,
    agent: agentOf,
    agentTimeoutMs: ctx.agentTimeoutMs,
    log: (msg, fields) => ctx.log.debug(msg, fields),
  });
  ctx.cleanup.push('drain the bench pool', () => pool.drain());
  try {
    await runLoop(ctx, r, async (i) => {
      const waited = await waitForShell(pool, 120_000);
      const coldBefore = pool.stats().coldForks;
      const t0 = Date.now();
      const vm = await pool.take({});
      const returnedAt = Date.now();
      try {
        const s = await cloneSample(vm, ctx.busybox, ctx.net, t0, returnedAt);
        // The shell was made before the take: its overlay and domain start are not part of the request.
        s.steps = renameAheadSteps(s.steps, mode === 'ready' ? ['overlay', 'domainStart', 'incoming', 'resume', 'agentReady'] : undefined);
        s.steps['waitForShell (before take)'] = waited;
        if (pool.stats().coldForks > coldBefore) s.note = 'no ready shell: the pool forked cold';
        r.samples.push(s);
      } finally {
        if (i >= ctx.opts.runs - keep) alive.push(vm);
        else await destroyClone(ctx, vm);
      }
    });
    r.extra = { pool_size: 1, pool_mode: mode, cold_fallbacks: pool.stats().coldForks };
    await pool.drain();
    r.pssVmsAlive = alive.length;
    r.pss = await readPssAfterSettle(alive.map((v) => v.identity.name), ctx.opts.settleMs, ctx.opts.memoryMib);
  } finally {
    await pool.drain().catch(() => undefined);
    for (const vm of alive) await destroyClone(ctx, vm).catch((e: Error) => r.errors.push(`destroy ${vm.identity.name}: ${e.message}`));
  }
  return r;
}

/** Waits until the pool has a ready shell; returns how long that took. */
async function waitForShell(pool: ReturnType<typeof createForkPool>, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  while (pool.stats().ready < 1) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`no warm shell within ${timeoutMs} ms (${JSON.stringify(pool.stats())})`);
    await sleep(25);
  }
  return Date.now() - t0;
}
