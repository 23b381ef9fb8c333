// Turning a clone the fork module made into one of VmManager's VMs, so that
// container jobs, vm.destroy, adoption and port publishing treat cold and
// forked VMs alike.
//
// A fresh fork is made with the VM's own id: its domain is `forkd-vm-<vmId>`,
// its files `<vmsDir>/<vmId>/`, its metadata kind 'vm' from the start, exactly
// like a cold VM. Only vm.json is missing until the fork finished, so a hostd
// killed mid-fork finds a domain it cannot adopt and destroys it.
//
// A warm-pool shell was started before anyone asked for it: it is named
// `forkd-pool-<shellId>`, lives in `<poolDir>/<shellId>/` and carries kind
// 'pool'. Claiming it for a VM (after the pool finished it: state in, resumed)
// rewrites its live metadata to kind 'vm' with the VM's id, moves its
// directory to `<vmsDir>/<vmId>/` (QEMU holds its files open; libvirt's copy of
// the paths only matters for relabelling on destroy), then connects the agent
// at the new path and gives the clone its identity. vm.json is written last.
//
// A ready-mode pool clone (FORKD_POOL_MODE=ready) comes with its agent already
// connected and its identity already set by the pool's take (hostname
// `hostnameFor(vmId)`): claiming it only rewrites metadata, moves the directory
// (the open agent connection does not care) and writes vm.json.
import { existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { DomainModificationImpact, MetadataType, type Domain } from '../../../native/libvirt/index.js';
import { ForkdError } from '../../contracts/errors.js';
import type { BootMode } from '../../contracts/jobs.js';
import type { Logger } from '../../contracts/logger.js';
import { AgentClient } from '../agent/agent-client.js';
import type { ForkedVm } from '../fork/fork.js';
import { FORK_FORMAT_VERSION } from '../fork/format.js';
import { destroyQuietly } from '../fork/ports.js';
import { escapeXml } from '../vm/domain-xml.js';
import { identityParams } from '../vm/guest-identity.js';
import { hostnameFor, ManagedVm, type VmManager } from '../vm/vm-manager.js';
import { domainNameOf, vmPaths, writeVmRecord, type VmRecord } from '../vm/vm-record.js';
import { FORKD_XMLNS } from '../vm/domain-xml.js';

export interface ForkedVmContext {
  vms: VmManager;
  hostId: string;
  log: Logger;
  agentTimeoutMs: number;
}

function baseRecord(ctx: ForkedVmContext, vmId: string, boot: BootMode, forked: ForkedVm, memoryMib: number, vcpus: number): VmRecord {
  return {
    vmId,
    hostId: ctx.hostId,
    accel: ctx.vms.accel,
    boot,
    createdAt: new Date().toISOString(),
    vcpus,
    memoryMib,
    hostname: forked.identity.hostname,
    ports: [],
    timings: { ...numericTimings(forked.timings as unknown as Record<string, number>) },
    ...(forked.tap === null ? {} : { tap: forked.tap }),
  };
}

function numericTimings(t: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(t)) if (typeof v === 'number') out[k] = v;
  return out;
}

/** A fresh fork made with the VM's own id and an AgentClient: record it and register it. Destroys it on failure. */
export async function registerFreshFork(
  ctx: ForkedVmContext,
  forked: ForkedVm<AgentClient>,
  info: { vmId: string; templateId: string; memoryMib: number; vcpus: number },
): Promise<ManagedVm> {
  try {
    if (!forked.agent) throw new ForkdError('ERR_INTERNAL', 'a fork for a VM needs its agent');
    const paths = vmPaths(ctx.vms.vmsDir, info.vmId);
    if (forked.dir !== paths.dir || forked.domain.name !== domainNameOf(info.vmId)) {
      throw new ForkdError('ERR_INTERNAL', `fork of ${info.vmId} landed at ${forked.dir} as ${forked.domain.name}`);
    }
    const record = baseRecord(ctx, info.vmId, 'fork', forked, info.memoryMib, info.vcpus);
    await writeVmRecord(paths.record, record);
    const vm = new ManagedVm(info.vmId, forked.domain.name, paths, record, forked.agent, forked.domain as Domain);
    ctx.vms.register(vm);
    return vm;
  } catch (err) {
    await forked.destroy();
    throw err;
  }
}

/** The `<forkd:domain/>` element a VM's domain carries (same attributes as a cold VM's, plus the template). */
function vmMetadata(vmId: string, hostId: string, templateId: string, boot: BootMode): string {
  const attrs: Array<[string, string]> = [
    ['vm', vmId],
    ['host', hostId],
    ['kind', 'vm'],
    ['created', new Date().toISOString()],
    ['boot', boot],
    ['template', templateId],
    ['format', String(FORK_FORMAT_VERSION)],
  ];
  return `<forkd:domain ${attrs.map(([k, v]) => `${k}='${escapeXml(v)}'`).join(' ')}/>`;
}

/**
 * A pool clone (state in, resumed, no agent yet) becomes VM `vmId`: metadata,
 * directory, agent, identity, record. On failure the domain and both
 * directories are gone.
 */
export async function claimPoolClone(
  ctx: ForkedVmContext,
  forked: ForkedVm<AgentClient>,
  info: { vmId: string; templateId: string; memoryMib: number; vcpus: number },
): Promise<ManagedVm> {
  const t0 = Date.now();
  const paths = vmPaths(ctx.vms.vmsDir, info.vmId);
  const domain = forked.domain as Domain;
  // Ready mode: connected and identified by the pool's take.
  const identified = forked.agent !== null && forked.identityResult !== null;
  let agent: AgentClient | null = identified ? forked.agent : null;
  let moved = false;
  try {
    if (existsSync(paths.dir)) throw new ForkdError('ERR_CONFLICT', `VM directory ${paths.dir} already exists`, { detail: { vmId: info.vmId } });
    await domain.setMetadata(MetadataType.ELEMENT, vmMetadata(info.vmId, ctx.hostId, info.templateId, 'pool'), 'forkd', FORKD_XMLNS, DomainModificationImpact.LIVE);
    await rename(forked.dir, paths.dir);
    moved = true;
    const tClaim = Date.now();
    const log = ctx.log.child({ vm: info.vmId });
    const hostname = hostnameFor(info.vmId);
    const record = baseRecord(ctx, info.vmId, 'pool', forked, info.memoryMib, info.vcpus);
    record.hostname = hostname;
    record.timings['claimMs'] = tClaim - t0;
    if (identified) {
      if (forked.identity.hostname !== hostname) throw new ForkdError('ERR_INTERNAL', `ready pool clone was named ${forked.identity.hostname}, not ${hostname}`);
      // Resumed and answered before anyone asked: not part of this request.
      record.timings['agentReadyAheadMs'] = forked.timings.agentReadyMs;
      record.timings['agentReadyMs'] = 0;
      if (forked.identityResult!.warnings.length > 0) log.debug('identity.set warnings', { warnings: forked.identityResult!.warnings });
    } else {
      agent = new AgentClient(paths.agentSocket, { log: (msg, fields) => log.debug(msg, fields) });
      await agent.waitReady({ timeoutMs: ctx.agentTimeoutMs });
      const tAgent = Date.now();
      const applied = await agent.call('identity.set', identityParams({
        hostname,
        machineId: forked.identity.machineId,
        mac: forked.network === null ? null : forked.identity.mac,
        nic: forked.network,
      }));
      const tIdentity = Date.now();
      if (applied.warnings.length > 0) log.debug('identity.set warnings', { warnings: applied.warnings });
      record.timings['agentReadyMs'] = tAgent - tClaim;
      record.timings['identityMs'] = tIdentity - tAgent;
    }
    if (!agent) throw new ForkdError('ERR_INTERNAL', 'a pool clone without its agent');
    await writeVmRecord(paths.record, record);
    const vm = new ManagedVm(info.vmId, domain.name, paths, record, agent, domain);
    ctx.vms.register(vm);
    return vm;
  } catch (err) {
    agent?.close();
    await destroyQuietly(forked.domain);
    await rm(forked.dir, { recursive: true, force: true }).catch(() => undefined);
    if (moved) await rm(paths.dir, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
}
