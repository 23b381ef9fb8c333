// After a fork, containers named after the VM follow its new hostname
// (identity.set → Containers.followHostname): their UTS name (through the
// setter given), the sources of their /etc/hostname and /etc/hosts bind
// mounts, rewritten in place (same inode: a bind mount holds it), the HOSTNAME
// their execs inherit, and the stored record. A pod member (a name of its own)
// and an exited container are left as they are.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cgroups } from './cgroups.js';
import { loadConfig, statePaths } from './config.js';
import { Containers, type ContainerRecord } from './containers.js';
import type { Crun } from './crun.js';
import { hostsFile } from './identity.js';
import type { ImageStore } from './images.js';

let dir: string;
let containers: Containers;

function record(id: string, name: string, status: ContainerRecord['status'], pid: number | null): ContainerRecord {
  return {
    id, name, image: 'sha256:x', layers: [], status, pid, exitCode: null, signal: null, oomKilled: false,
    createdAt: 1, startedAt: 1, finishedAt: null, env: ['PATH=/bin', `HOSTNAME=${name}`], cwd: '/', user: { uid: 0, gid: 0 }, error: null,
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'forkd-hostname-test-'));
  const cfg = { ...loadConfig({}), root: join(dir, 'state'), etc: join(dir, 'etc'), system: false };
  const root = statePaths(cfg.root).containers;
  for (const [id, name, status, pid] of [['desk', 'vm-old', 'running', 101], ['web', 'web', 'running', 102], ['done', 'vm-old', 'exited', null]] as const) {
    mkdirSync(join(root, id), { recursive: true });
    writeFileSync(join(root, id, 'state.json'), JSON.stringify(record(id, name, status, pid)));
    writeFileSync(join(root, id, 'hostname'), `${name}\n`);
    writeFileSync(join(root, id, 'hosts'), hostsFile(name));
  }
  // The records say running and crun agrees, so init() keeps them running.
  const crun = { state: async () => ({ status: 'running', pid: 1 }) } as unknown as Crun;
  containers = new Containers(cfg, {} as ImageStore, { oomKills: async () => 0 } as unknown as Cgroups, crun, () => undefined);
  await containers.init();
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a container named after its VM, after a fork', () => {
  it('takes the VM\'s new hostname: UTS, bind-mount sources in place, HOSTNAME, record', async () => {
    const file = (id: string, f: string) => join(dir, 'state', 'containers', id, f);
    const inode = statSync(file('desk', 'hostname')).ino;
    const uts: Array<[number, string]> = [];
    const r = await containers.followHostname('vm-old', 'vm-new', async (pid, h) => { uts.push([pid, h]); });
    expect(r).toEqual({ renamed: ['desk'], warnings: [] });
    expect(uts).toEqual([[101, 'vm-new']]);
    expect(readFileSync(file('desk', 'hostname'), 'utf8')).toBe('vm-new\n');
    expect(statSync(file('desk', 'hostname')).ino).toBe(inode);
    expect(readFileSync(file('desk', 'hosts'), 'utf8')).toContain('127.0.1.1\tvm-new');
    const stored = JSON.parse(readFileSync(file('desk', 'state.json'), 'utf8')) as ContainerRecord;
    expect(stored.name).toBe('vm-new');
    expect(stored.env).toContain('HOSTNAME=vm-new');
    expect(containers.get('desk').name).toBe('vm-new');
    // Controls: a pod member keeps its own name, an exited container is not touched.
    expect(readFileSync(file('web', 'hostname'), 'utf8')).toBe('web\n');
    expect(readFileSync(file('done', 'hostname'), 'utf8')).toBe('vm-old\n');
    expect(containers.get('web').name).toBe('web');
  });

  it('reports a container it could not rename as a warning, and renames nothing when the name is unchanged', async () => {
    const r = await containers.followHostname('vm-new', 'vm-next', async () => { throw new Error('setns failed: errno 1'); });
    expect(r.renamed).toEqual([]);
    expect(r.warnings).toEqual(['hostname of container desk: setns failed: errno 1']);
    expect(containers.get('desk').name).toBe('vm-new');
    expect(await containers.followHostname('vm-new', 'vm-new', async () => { throw new Error('not called'); })).toEqual({ renamed: [], warnings: [] });
  });
});
