// Builds the guest image with a stand-in agent and boots it under TCG with raw
// QEMU: kernel → initramfs → modules → ext4 root → init → node must all work for
// the stand-in to print AGENT-STARTED. The stand-in exits once to prove init
// restarts the agent, and reports the virtio-serial port name, the NIC, crun (and
// runs a busybox container with it) and the agent log, so one boot checks the
// whole layout.
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGuestImage, type GuestImage } from './build.js';
import { bootQemu, type QemuBoot } from './qemu-boot.testutil.js';
import { AGENT_PORT_NAME, GUEST_FAILED_MARKER, GUEST_READY_MARKER } from './scripts.js';

const STAND_IN_AGENT = `
import { execFileSync } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
const say = (s) => writeFileSync('/dev/console', s + '\\n');
const runsFile = '/run/forkd/stand-in-runs';
const run = (existsSync(runsFile) ? Number(readFileSync(runsFile, 'utf8')) : 0) + 1;
writeFileSync(runsFile, String(run));
say('AGENT-STARTED ' + process.version + ' run=' + run);
console.log('stand-in agent stdout, run ' + run);
if (run === 1) process.exit(3);
const ports = readdirSync('/sys/class/virtio-ports').map((p) => p + '=' + readFileSync('/sys/class/virtio-ports/' + p + '/name', 'utf8').trim() + (existsSync('/dev/' + p) ? ':dev' : ':nodev'));
say('AGENT-PORTS ' + ports.join(' '));
say('AGENT-NET ' + readdirSync('/sys/class/net').sort().join(' '));
const fs = readFileSync('/proc/filesystems', 'utf8');
const mounts = readFileSync('/proc/mounts', 'utf8');
say('AGENT-FS overlay=' + fs.includes('overlay') + ' cgroup2=' + mounts.includes(' /sys/fs/cgroup cgroup2 ') + ' root=' + (mounts.match(/^\\S+ \\/ (\\S+)/m)?.[1] ?? '?'));
say('AGENT-CRUN ' + execFileSync('crun', ['--version'], { encoding: 'utf8' }).split('\\n')[0]);
// init's read-only bind of crun (CVE-2019-5736): mounted ro, and writing through it fails.
const crunMount = mounts.split('\\n').find((l) => l.split(' ')[1] === '/usr/bin/crun');
const tryAppend = (f) => { try { appendFileSync(f, ''); return 'allowed'; } catch (e) { return e.code; } };
// The same probe on a writable file of the same root, so a refusal is the mount's doing.
say('AGENT-CRUN-GUARD ' + (crunMount ? crunMount.split(' ')[3].split(',')[0] : 'none') + ' write=' + tryAppend('/usr/bin/crun') + ' beside=' + tryAppend('/etc/forkd/agent.sh'));
// A real container: busybox rootfs, crun's default spec (all namespaces, cgroup2).
const b = '/var/lib/forkd/stand-in';
mkdirSync(b + '/rootfs/bin', { recursive: true });
for (const d of ['proc', 'sys', 'dev', 'tmp']) mkdirSync(b + '/rootfs/' + d, { recursive: true });
copyFileSync('/bin/busybox', b + '/rootfs/bin/busybox');
execFileSync('chmod', ['755', b + '/rootfs/bin/busybox']);
execFileSync('crun', ['spec'], { cwd: b });
const spec = JSON.parse(readFileSync(b + '/config.json', 'utf8'));
spec.process.terminal = false;
spec.process.args = ['/bin/busybox', 'sh', '-c', 'echo CONTAINER-OK pid=$$ spec-env=\${FORKD_SPEC_ENV:-unset} cloned-env=\${_LIBCONTAINER_CLONED_BINARY:-unset}'];
spec.process.env = [...spec.process.env, 'FORKD_SPEC_ENV=seen'];
writeFileSync(b + '/config.json', JSON.stringify(spec));
say('AGENT-CONTAINER ' + execFileSync('crun', ['run', '-b', b, 'stand-in'], { encoding: 'utf8', env: { ...process.env, _LIBCONTAINER_CLONED_BINARY: '1' } }).trim());
say('AGENT-LOG restarted=' + readFileSync('/var/log/forkd-agent.log', 'utf8').includes('agent exited with status 3'));
setInterval(() => {}, 1 << 30);
`;

describe('guest image', () => {
  let dataDir: string;
  let agent: string;
  let image: GuestImage;
  let coldMs: number;
  let vm: QemuBoot | undefined;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'forkd-guest-test-'));
    agent = join(dataDir, 'stand-in-agent.mjs');
    await writeFile(agent, STAND_IN_AGENT);
    const t = Date.now();
    image = await buildGuestImage({ dataDir, agentBundle: agent });
    coldMs = Date.now() - t;
  });

  afterAll(async () => {
    await vm?.kill();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('is built once per content hash: a second build returns the same image without rebuilding', async () => {
    const before = await stat(image.rootDisk);
    const steps: string[] = [];
    const t = Date.now();
    const again = await buildGuestImage({ dataDir, agentBundle: agent, onProgress: (s) => steps.push(s) });
    const cachedMs = Date.now() - t;
    console.log(`guest image ${image.id}: cold build ${coldMs} ms, cached ${cachedMs} ms`);
    expect(again).toEqual(image);
    expect(steps).toContain('cached');
    expect(steps).not.toContain('root-disk');
    expect((await stat(image.rootDisk)).mtimeMs).toBe(before.mtimeMs);

    // A different agent is a different image.
    const other = join(dataDir, 'other-agent.mjs');
    await writeFile(other, `${STAND_IN_AGENT}\n// changed\n`);
    const changed = await buildGuestImage({ dataDir, agentBundle: other });
    expect(changed.id).not.toBe(image.id);
    await rm(changed.dir, { recursive: true, force: true });
  });

  it('boots under TCG to the agent, which sees its virtio-serial port', async () => {
    const sock = join(dataDir, 'agent.sock');
    vm = bootQemu({
      kernel: image.kernel,
      initrd: image.initramfs,
      append: image.cmdline,
      memMiB: 256,
      extra: [
        '-drive', `file=${image.rootDisk},if=virtio,format=qcow2,snapshot=on`,
        '-device', 'virtio-serial-pci',
        '-chardev', `socket,id=agent0,path=${sock},server=on,wait=off`,
        '-device', `virtserialport,chardev=agent0,name=${AGENT_PORT_NAME}`,
        '-netdev', 'user,id=n0,restrict=on',
        '-device', 'virtio-net-pci,netdev=n0,romfile=',
      ],
    });
    const first = await vm.waitFor(/AGENT-STARTED (v20\.\S+) run=1/, 180_000);
    console.log(`guest: AGENT-STARTED after ${first.ms} ms under TCG (cold boot, 256 MiB, 1 vCPU)`);
    expect(first.match[1]).toBe(process.version);
    const ready = await vm.waitFor(new RegExp(GUEST_READY_MARKER), 10_000);
    const initDone = await vm.waitFor(/forkd-init: system ready after (\S+)s/, 10_000);
    console.log(`guest: init done at ${initDone.match[1]} s guest uptime, ${GUEST_READY_MARKER} after ${ready.ms} ms`);

    await vm.waitFor(/AGENT-STARTED v20\S+ run=2/, 30_000); // init restarted the agent after it exited
    const ports = await vm.waitFor(/AGENT-PORTS ([^\r\n]*)/, 20_000);
    expect(ports.match[1]).toMatch(new RegExp(`vport\\d+p\\d+=${AGENT_PORT_NAME.replace(/\./g, '\\.')}:dev`));
    expect((await vm.waitFor(/AGENT-NET ([^\r\n]*)/, 10_000)).match[1]).toContain('eth0');
    expect((await vm.waitFor(/AGENT-FS ([^\r\n]*)/, 10_000)).match[1]).toContain('overlay=true cgroup2=true root=ext4');
    expect((await vm.waitFor(/AGENT-CRUN ([^\r\n]*)/, 20_000)).match[1]).toMatch(/crun version/);
    // crun runs without re-executing itself (the agent's way, crun.ts); the container gets its spec's environment, not crun's.
    expect((await vm.waitFor(/AGENT-CRUN-GUARD ([^\r\n]*)/, 10_000)).match[1]).toBe('ro write=EROFS beside=allowed');
    expect((await vm.waitFor(/AGENT-CONTAINER ([^\r\n]*)/, 30_000)).match[1]).toBe('CONTAINER-OK pid=1 spec-env=seen cloned-env=unset');
    expect((await vm.waitFor(/AGENT-LOG ([^\r\n]*)/, 10_000)).match[1]).toBe('restarted=true');
    expect(vm.output()).not.toContain('FORKD-GUEST-FAILED');
  });

  it('without a root disk, says why on the console and powers off instead of hanging', async () => {
    await vm?.kill();
    vm = bootQemu({ kernel: image.kernel, initrd: image.initramfs, append: image.cmdline, memMiB: 256, extra: ['-nic', 'none'] });
    const failed = await vm.waitFor(new RegExp(`${GUEST_FAILED_MARKER}: ([^\\r\\n]*)`), 180_000);
    expect(failed.match[1]).toBe('root disk /dev/vda did not appear');
    const code = await Promise.race([vm.exited, new Promise<'running'>((r) => setTimeout(() => r('running'), 30_000))]);
    expect(code).toBe(0);
    console.log(`guest without a disk: ${GUEST_FAILED_MARKER} after ${failed.ms} ms, powered off`);
  });
});
