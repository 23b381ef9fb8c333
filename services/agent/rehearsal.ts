// A throwaway container run while a ready-pool clone idles, before anyone
// takes it. Under TCG a clone is a new QEMU process whose translated-code
// cache starts empty: the first `crun run` after a take translates crun, the
// kernel's namespace, mount and cgroup paths and the exec of the container's
// process anew, which was most of a pooled container start (0.5 s). Running
// the same path once ahead moves that cost out of the request. Under KVM it
// costs little and gains little; hostd only asks for it in the ready pool.
//
// The rehearsal uses the request's own pieces (overlay of an image's layers
// when the guest has it, the OCI spec, cgroups, `crun run`), but runs the
// guest's static busybox bound in read-only (`true`), so it needs nothing from
// the image, and leaves nothing behind: no record, no crun state, no cgroup,
// no mount, no directory. It never appears in container.list.

import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentError, type Params, type Result } from '../contracts/agent-protocol/index.js';
import type { Cgroups } from './cgroups.js';
import type { AgentConfig } from './config.js';
import type { Crun } from './crun.js';
import { crunError } from './crun.js';
import type { ImageStore } from './images.js';
import { DEFAULT_PATH, ociSpec } from './oci-spec.js';
import { mountRootfs, unmountRootfs } from './rootfs.js';

/** The rehearsal's crun id: outside the protocol's ContainerId pattern (no leading `_`), so it never meets a real container. */
export const REHEARSAL_ID = '_forkd-rehearsal';
const BUSYBOX = '/bin/busybox';
// busybox picks its applet from argv[0]'s name unless that name starts with "busybox".
const TOOL = '/.forkd-rehearsal/busybox';

export interface RehearsalDeps {
  cfg: AgentConfig;
  images: ImageStore;
  cgroups: Cgroups;
  crun: Crun;
}

export async function rehearseContainer(d: RehearsalDeps, p: Params<'container.rehearse'>): Promise<Result<'container.rehearse'>> {
  const t0 = Date.now();
  const dir = join(d.cfg.root, 'rehearsal');
  const crunLog = join(dir, 'crun.log');
  await cleanUp(d, dir);
  for (const sub of ['rootfs', 'upper', 'work']) await mkdir(join(dir, sub), { recursive: true });
  try {
    const image = p.image ? await d.images.image(p.image) : null;
    // Without the image (or with none named) the rootfs is an empty directory: crun's path is the same.
    const rootfs = image ? await mountRootfs(d.images, image.layers, dir, d.cfg.system) : join(dir, 'rootfs');
    for (const f of ['hosts', 'hostname', 'resolv.conf']) await writeFile(join(dir, f), '');
    const spec = ociSpec({
      args: [TOOL, 'true'],
      env: [DEFAULT_PATH, 'HOSTNAME=rehearsal'],
      cwd: '/',
      user: { uid: 0, gid: 0 },
      hostname: 'rehearsal',
      rootfs,
      cgroupsPath: d.cgroups.cgroupsPath(REHEARSAL_ID),
      limits: undefined,
      etcFiles: { hosts: join(dir, 'hosts'), hostname: join(dir, 'hostname'), resolvConf: join(dir, 'resolv.conf') },
      volumes: [{ source: BUSYBOX, destination: TOOL, readOnly: true }],
    });
    await writeFile(join(dir, 'config.json'), JSON.stringify(spec));
    await d.cgroups.prepare(REHEARSAL_ID);
    const child = await d.crun.run(REHEARSAL_ID, dir, crunLog, join(dir, 'pid'));
    child.stdout?.resume();
    child.stderr?.resume();
    const code = await new Promise<number | null>((resolve) => {
      child.once('error', () => resolve(null));
      child.once('close', (c) => resolve(c));
    });
    if (code !== 0) throw new AgentError('ERR_CONTAINER_START', `the rehearsal container failed: ${(await crunError(crunLog)) ?? `crun exited ${code}`}`);
    return { ms: Date.now() - t0, image: image !== null };
  } finally {
    await cleanUp(d, dir);
  }
}

async function cleanUp(d: RehearsalDeps, dir: string): Promise<void> {
  await d.crun.deleteLeftover(REHEARSAL_ID, join(dir, 'crun-delete.log')).catch(() => undefined);
  await d.cgroups.remove(REHEARSAL_ID);
  await unmountRootfs(dir).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
}
