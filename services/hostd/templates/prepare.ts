// What goes into a template before its snapshot: the container image (so a
// fork's image import finds every layer present) and, for an app template,
// containers created and started (so forks start with them running).
import type { Params } from '../../contracts/agent-protocol/index.js';
import type { JobImage, SealedContainerSpec, TemplateBuildInput } from '../../contracts/jobs.js';
import type { Logger } from '../../contracts/logger.js';
import { appContainerSubject, openEnv } from '../../contracts/secrets/index.js';
import type { AgentClient } from '../agent/agent-client.js';
import type { BlobCache } from '../blobs/blob-cache.js';
import { hostImage } from '../handlers/guest.js';

export async function prepareTemplate(agent: AgentClient, input: TemplateBuildInput, log: Logger, secretKey: Buffer, blobs?: BlobCache): Promise<void> {
  if (!input.image) return;
  const t0 = Date.now();
  const imported = await agent.importImage(hostImage(input.image, blobs, input.templateId));
  log.info('template: image imported', { image: input.image.id, sent: imported.sent.length, ms: Date.now() - t0 });
  // One app container is named after the template's VM, as a container in a VM
  // of its own always is: each fork's identity.set then renames it with its VM
  // (UTS hostname, /etc/hostname), so forks do not share the template's name
  // (docs/clone-hazards.md). Several keep names of their own (their ids), as a
  // pod's members do, and share them across forks.
  // env opened just before the agent calls (the job payload holds only the envelopes), all of them first: one that does not open sends nothing.
  const envs = input.containers.map((c) => openEnv(secretKey, appContainerSubject(input.templateId, c.containerId), c.spec.env));
  const vmName = input.containers.length === 1 ? (await agent.call('info', {})).hostname : undefined;
  for (const [i, c] of input.containers.entries()) {
    await agent.call('container.create', { ...containerParams(c.containerId, input.image.id, c.spec, envs[i]!), ...(vmName ? { name: vmName } : {}) });
    await agent.call('container.start', { id: c.containerId });
    log.info('template: container started', { container: c.containerId });
  }
}

/** Same mapping as container.create's: the resolved argv replaces the image's entrypoint and cmd. */
function containerParams(id: string, imageId: string, spec: SealedContainerSpec, env: string[]): Params<'container.create'> {
  const l = spec.limits;
  return {
    id,
    image: imageId,
    command: spec.command,
    args: [],
    env,
    ...(spec.workingDir ? { workingDir: spec.workingDir } : {}),
    ...(spec.user ? { user: spec.user } : {}),
    limits: {
      ...(l.memoryMib === undefined ? {} : { memoryMib: l.memoryMib }),
      ...(l.cpus === undefined ? {} : { cpus: l.cpus }),
      ...(l.pids === undefined ? {} : { pids: l.pids }),
    },
  };
}
