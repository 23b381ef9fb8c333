import { describe, expect, it } from 'vitest';
import { DEFAULT_PATH, mergeEnv, ociSpec, resolveArgs, resolveUser, unifiedResources, volumeMounts } from './oci-spec.js';

const passwd = 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n';
const group = 'root:x:0:\napp:x:1001:\nwheel:x:10:app,root\ndocker:x:999:app\n';

describe('OCI config generation', () => {
  it('follows Docker rules for Entrypoint/Cmd overrides', () => {
    const cfg = { Entrypoint: ['/entry'], Cmd: ['default'] };
    expect(resolveArgs(cfg, undefined, undefined)).toEqual(['/entry', 'default']);
    expect(resolveArgs(cfg, undefined, ['a'])).toEqual(['/entry', 'a']);
    expect(resolveArgs(cfg, ['sh', '-c'], undefined)).toEqual(['sh', '-c']);
    expect(resolveArgs(cfg, ['sh', '-c'], ['echo'])).toEqual(['sh', '-c', 'echo']);
    expect(resolveArgs({}, undefined, undefined)).toEqual([]);
  });

  it('merges env key by key with PATH and HOSTNAME defaults', () => {
    expect(mergeEnv(['A=1', 'B=2'], ['B=3', 'C=x=y'], 'h')).toEqual(['A=1', 'B=3', 'C=x=y', DEFAULT_PATH, 'HOSTNAME=h']);
    expect(mergeEnv(['PATH=/bin'], undefined, 'h')).toEqual(['PATH=/bin', 'HOSTNAME=h']);
  });

  it('resolves users by number and name, with supplementary groups', () => {
    expect(resolveUser(undefined, passwd, group)).toEqual({ uid: 0, gid: 0 });
    expect(resolveUser('app', passwd, group)).toEqual({ uid: 1000, gid: 1001, additionalGids: [10, 999] });
    expect(resolveUser('1000:10', passwd, group)).toEqual({ uid: 1000, gid: 10, additionalGids: [999] });
    expect(resolveUser('4242', passwd, group)).toEqual({ uid: 4242, gid: 0 });
    expect(resolveUser('app:docker', passwd, group)?.gid).toBe(999);
    expect(resolveUser('ghost', passwd, group)).toBeNull();
    expect(resolveUser('app:ghosts', passwd, group)).toBeNull();
  });

  it('maps limits onto cgroup v2 files', () => {
    expect(unifiedResources(undefined)).toEqual({});
    expect(unifiedResources({ memoryMib: 16, cpus: 1.5, pids: 100 })).toEqual({ 'memory.max': '16777216', 'cpu.max': '150000 100000', 'pids.max': '100' });
    expect(unifiedResources({ cpus: 0.001 })['cpu.max']).toBe('1000 100000');
  });

  it('builds a spec sharing the VM network, with the default mounts', () => {
    const s = ociSpec({
      args: ['sh'],
      env: ['PATH=/bin'],
      cwd: '/',
      user: { uid: 0, gid: 0 },
      hostname: 'c1',
      rootfs: '/r',
      cgroupsPath: '/forkd/c1/ctr',
      limits: { memoryMib: 16 },
      etcFiles: { hosts: '/h', hostname: '/hn', resolvConf: '/rc' },
    }) as { linux: { namespaces: Array<{ type: string }>; cgroupsPath: string }; mounts: Array<{ destination: string; options?: string[] }>; process: { terminal: boolean }; hostname: string };
    expect(s.linux.namespaces.map((n) => n.type).sort()).toEqual(['cgroup', 'ipc', 'mount', 'pid', 'uts']);
    expect(s.linux.cgroupsPath).toBe('/forkd/c1/ctr');
    expect(s.mounts.map((m) => m.destination)).toEqual(expect.arrayContaining(['/proc', '/dev', '/dev/pts', '/dev/shm', '/sys', '/etc/resolv.conf']));
    expect(s.mounts.find((m) => m.destination === '/sys')?.options).toContain('ro');
    expect(s.process.terminal).toBe(false);
    expect(s.hostname).toBe('c1');
  });
});

describe('volume mounts', () => {
  it('bind the guest directory at the path, read-only when asked, after the default mounts', () => {
    expect(volumeMounts([{ source: '/g/a', destination: '/data', readOnly: false }, { source: '/g/b', destination: '/etc/conf', readOnly: true }])).toEqual([
      { destination: '/data', type: 'bind', source: '/g/a', options: ['rbind', 'nosuid', 'nodev', 'rw'] },
      { destination: '/etc/conf', type: 'bind', source: '/g/b', options: ['rbind', 'nosuid', 'nodev', 'ro'] },
    ]);
    expect(volumeMounts(undefined)).toEqual([]);
  });
});
