// The dispatch table: every protocol method and the module that implements it.
// hello is answered by the session itself (it starts the session).

import type { AgentConfig } from './config.js';
import { Cgroups } from './cgroups.js';
import { Containers } from './containers.js';
import { Crun } from './crun.js';
import { execInContainer } from './exec.js';
import { attachContainer, ExecTerminals, resizeTerminal } from './attach.js';
import type { HandlerTable, Log } from './handler.js';
import { hostsFile, identityHandlers } from './identity.js';
import { ImageStore, imageHandlers } from './images.js';
import { streamLog } from './logs.js';
import { portConnect } from './port-forward.js';
import { rehearseContainer } from './rehearsal.js';
import { systemHandlers } from './system.js';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface Agent {
  handlers: HandlerTable;
  containers: Containers;
  images: ImageStore;
}

export async function createAgent(cfg: AgentConfig, log: Log): Promise<Agent> {
  const images = new ImageStore(cfg.root);
  await images.init();
  const cgroups = new Cgroups(cfg.cgroupRoot);
  const crun = new Crun(cfg.crun);
  const containers = new Containers(cfg, images, cgroups, crun, log);
  await containers.init();
  const execTerminals = new ExecTerminals();
  const handlers: HandlerTable = {
    ...systemHandlers(cfg),
    ...identityHandlers(cfg, containers),
    ...imageHandlers(images, async () => containers.layersInUse()),
    'container.create': async (p, ctx) => {
      const made = await containers.create(p);
      if (p.start !== true) return made;
      // A start that fails leaves the container created, as a container.start after the create would.
      const t0 = performance.now();
      const { pid, container } = await containers.start(p.id, ctx.signal);
      return { ...made, started: { pid, ...(container ? { container } : {}), ms: Math.round(performance.now() - t0) } };
    },
    'container.start': (p, ctx) => containers.start(p.id, ctx.signal),
    'container.kill': (p) => containers.kill(p.id, p.signal),
    'container.wait': (p, ctx) => containers.wait(p.id, ctx.signal),
    'container.delete': (p) => containers.delete(p.id, p.force === true),
    'container.rehearse': (p) => rehearseContainer({ cfg, images, cgroups, crun }, p),
    'container.hold': (p) => containers.held.hold(p),
    'container.list': async () => ({ containers: containers.list() }),
    'container.stats': async (p) => {
      containers.get(p.id);
      return cgroups.stats(containers.runtimeId(p.id));
    },
    'container.exec': (p, ctx) => execInContainer(containers, p, ctx, execTerminals),
    'container.attach': (p, ctx) => attachContainer(containers, p, ctx),
    'container.resize': async (p) => resizeTerminal(containers, execTerminals, p),
    'container.logs': async (p, ctx) => {
      containers.get(p.id);
      const lines = await streamLog(join(containers.containerDir(p.id), 'log'), p, containers.logWriter(p.id), (b) => ctx.write('out', b), ctx.signal);
      return { lines };
    },
    'port.connect': portConnect,
    'network.hosts': async (p) => {
      const written = await containers.updatePeers(p.entries);
      const hostname = (await readFile(join(cfg.etc, 'hostname'), 'utf8').catch(() => '')).trim() || 'localhost';
      await writeFile(join(cfg.etc, 'hosts'), hostsFile(hostname) + containers.peers.current);
      return { written: written + 1 };
    },
  };
  return { handlers, containers, images };
}
