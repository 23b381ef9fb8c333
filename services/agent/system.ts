// ping and info: what the host asks to know the guest is alive and what it is.

import { access, readFile } from 'node:fs/promises';
import { freemem, hostname, release, totalmem, uptime, version } from 'node:os';
import { join } from 'node:path';
import { PROTOCOL_VERSION } from '../contracts/agent-protocol/index.js';
import { AGENT_VERSION, type AgentConfig } from './config.js';
import type { HandlerTable } from './handler.js';
import { readMachineId } from './identity.js';
import { run } from './run.js';

export function parseMeminfo(text: string): { totalBytes: number; availableBytes: number } | null {
  const kb = (key: string): number | null => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : null;
  };
  const total = kb('MemTotal');
  const avail = kb('MemAvailable') ?? kb('MemFree');
  return total === null || avail === null ? null : { totalBytes: total, availableBytes: avail };
}

export async function cgroupVersion(cgroupRoot: string): Promise<'v2' | 'v1' | 'none'> {
  const exists = (p: string) => access(p).then(() => true, () => false);
  if (await exists(join(cgroupRoot, 'cgroup.controllers'))) return 'v2';
  if (await exists(join(cgroupRoot, 'memory'))) return 'v1';
  return 'none';
}

export function systemHandlers(cfg: AgentConfig): HandlerTable {
  let runtime: string | null = null;
  return {
    ping: async () => ({ now: Date.now() }),
    info: async () => {
      const mem = parseMeminfo(await readFile('/proc/meminfo', 'utf8').catch(() => '')) ?? { totalBytes: totalmem(), availableBytes: freemem() };
      if (runtime === null) {
        const r = await run(cfg.crun, ['--version']).catch(() => null);
        runtime = r && r.code === 0 ? (r.stdout.split('\n')[0] ?? '').slice(0, 200) : '';
      }
      return {
        agentVersion: AGENT_VERSION,
        protocol: PROTOCOL_VERSION,
        kernel: `${release()} ${version()}`.slice(0, 500),
        hostname: hostname().slice(0, 250),
        uptimeSec: uptime(),
        memory: mem,
        cgroup: await cgroupVersion(cfg.cgroupRoot),
        runtime,
        ...(await readMachineId(cfg).then((id) => (id !== null && /^[0-9a-f]{32}$/.test(id) ? { machineId: id } : {}))),
      };
    },
  };
}
