import { afterEach, describe, expect, it } from 'vitest';
import { AGENT_PORT_NAME, buildDomainXml, configureTcg, escapeXml, FORKD_XMLNS, MACHINE_TYPE, networkSpecFor, type DomainSpec } from './domain-xml.js';

function spec(over: Partial<DomainSpec> = {}): DomainSpec {
  return {
    name: 'forkd-vm-abc123',
    uuid: '6f1c2b8e-0d7a-4c1e-9a55-3f0a1b2c3d4e',
    type: 'qemu',
    vcpus: 1,
    memoryMib: 256,
    kernel: '/var/images/g1/vmlinuz',
    initramfs: '/var/images/g1/initrd.img',
    cmdline: 'console=ttyS0 quiet',
    disks: [{ path: '/var/run/vms/abc123/root.qcow2', format: 'qcow2' }],
    nic: { mac: '0a:f0:4d:12:34:56', network: 'tap', tap: 'fkt0123456789ab' },
    agentSocket: '/var/run/vms/abc123/agent.sock',
    consoleLog: '/var/run/vms/abc123/console.log',
    metadata: { vm: 'abc123', host: 'h1', kind: 'vm', created: '2026-01-01T00:00:00.000Z' },
    memory: { mode: 'anonymous' },
    ...over,
  };
}

const count = (xml: string, s: string): number => xml.split(s).length - 1;

describe('buildDomainXml', () => {
  it('takes the accelerator from the spec, never a fixed one', () => {
    expect(buildDomainXml(spec({ type: 'qemu' }))).toMatch(/^<domain type='qemu' /);
    const kvm = buildDomainXml(spec({ type: 'kvm' }));
    expect(kvm).toMatch(/^<domain type='kvm' /);
    expect(kvm).toContain(`<cpu mode='host-passthrough'`);
  });

  it('pins the machine type (overridable to match a template)', () => {
    expect(buildDomainXml(spec())).toContain(`machine='${MACHINE_TYPE}'`);
    expect(buildDomainXml(spec({ machine: 'pc-i440fx-7.1' }))).toContain(`machine='pc-i440fx-7.1'`);
  });

  it('boots kernel and initramfs directly with the given command line', () => {
    const xml = buildDomainXml(spec());
    expect(xml).toContain('<kernel>/var/images/g1/vmlinuz</kernel>');
    expect(xml).toContain('<initrd>/var/images/g1/initrd.img</initrd>');
    expect(xml).toContain('<cmdline>console=ttyS0 quiet</cmdline>');
    expect(xml).toContain(`<memory unit='MiB'>256</memory>`);
    expect(xml).toContain(`<vcpu placement='static'>1</vcpu>`);
  });

  it('renders qcow2 disks in order with fixed addresses, read-only when asked', () => {
    const xml = buildDomainXml(
      spec({ disks: [{ path: '/a.qcow2', format: 'qcow2' }, { path: '/b.qcow2', format: 'qcow2', readonly: true }] }),
    );
    expect(xml).toMatch(/<source file='\/a\.qcow2'\/><target dev='vda' bus='virtio'\/><address type='pci' domain='0x0000' bus='0x00' slot='0x05'/);
    expect(xml).toMatch(/<source file='\/b\.qcow2'\/><target dev='vdb' bus='virtio'\/><readonly\/><address [^>]*slot='0x06'/);
    expect(count(xml, `type='qcow2'`)).toBe(2);
  });

  it('renders the NIC as hostd\'s own tap, unmanaged by libvirt, virtio without vhost', () => {
    const def = buildDomainXml(spec());
    expect(def).toContain(
      `<interface type='ethernet'><mac address='0a:f0:4d:12:34:56'/><target dev='fkt0123456789ab' managed='no'/><model type='virtio'/><driver name='qemu'/><rom enabled='no'/>` +
        `<address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/></interface>`,
    );
    expect(buildDomainXml(spec({ nic: undefined }))).not.toContain('<interface');
    expect(def).not.toContain('vhost');
  });

  it('never gives a guest user-mode networking or a libvirt network (both reach the host)', () => {
    const def = buildDomainXml(spec());
    expect(def).not.toMatch(/type='user'|type='network'|type='bridge'/);
  });

  it('maps FORKD_NETWORK to the NIC', () => {
    expect(networkSpecFor('tenant')).toBe('tap');
    expect(networkSpecFor('none')).toBeNull();
  });

  it('binds the agent channel to a host socket under the agent port name', () => {
    const xml = buildDomainXml(spec());
    expect(xml).toContain(
      `<channel type='unix'><source mode='bind' path='/var/run/vms/abc123/agent.sock'/><target type='virtio' name='${AGENT_PORT_NAME}'/>`,
    );
    expect(AGENT_PORT_NAME).toBe('org.forkd.agent.0');
  });

  it('writes the serial console to a file', () => {
    expect(buildDomainXml(spec())).toContain(`<serial type='file'><source path='/var/run/vms/abc123/console.log'/>`);
  });

  it('records forkd metadata in its namespace', () => {
    const xml = buildDomainXml(spec({ metadata: { vm: 'abc123', host: 'h1', kind: 'vm', created: 'T', extra: { template: 'tp1' } } }));
    expect(xml).toContain(`<forkd:domain xmlns:forkd='${FORKD_XMLNS}' vm='abc123' host='h1' kind='vm' created='T' template='tp1'/>`);
    expect(() => buildDomainXml(spec({ metadata: { vm: 'a', host: 'h', kind: 'vm', created: 'T', extra: { 'bad key': 'x' } } }))).toThrow();
    expect(() => buildDomainXml(spec({ metadata: { vm: 'a', host: 'h', kind: 'vm', created: 'T', extra: { vm: 'x' } } }))).toThrow();
  });

  it('has no balloon, virtio-mem or virtio-fs, and a VM generation id', () => {
    const xml = buildDomainXml(spec());
    expect(xml).toContain(`<memballoon model='none'/>`);
    expect(xml).not.toMatch(/virtio-mem|virtiofs|<filesystem|<memoryBacking/);
    expect(xml).toContain('<genid/>');
    expect(buildDomainXml(spec({ genid: 'AAAAAAAA-bbbb-4ccc-8ddd-eeeeeeeeeeee' }))).toContain(
      '<genid>aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee</genid>',
    );
  });

  it('anonymous memory adds no QEMU arguments', () => {
    expect(buildDomainXml(spec())).not.toContain('qemu:commandline');
  });

  it('template memory: a shared file backend that is the machine RAM', () => {
    const xml = buildDomainXml(spec({ memory: { mode: 'template', ramId: 'forkd-ram', memPath: '/t/memory', share: true } }));
    expect(xml).toContain(`<qemu:arg value='memory-backend-file,id=forkd-ram,size=256M,mem-path=/t/memory,share=on'/>`);
    expect(xml).toContain(`<qemu:arg value='-machine'/>\n    <qemu:arg value='memory-backend=forkd-ram'/>`);
    expect(xml).not.toContain('-incoming');
  });

  it('clone memory: the same backend id, private mapping, incoming deferred', () => {
    const xml = buildDomainXml(
      spec({ memory: { mode: 'clone', ramId: 'forkd-ram', memPath: '/t/memory', share: false, incoming: 'defer' } }),
    );
    expect(xml).toContain(`mem-path=/t/memory,share=off'/>`);
    expect(xml).toContain(`<qemu:arg value='-incoming'/>\n    <qemu:arg value='defer'/>`);
  });

  it('doubles commas in a mem-path so QEMU does not split it', () => {
    const xml = buildDomainXml(spec({ memory: { mode: 'template', ramId: 'r', memPath: '/t,x/memory', share: true } }));
    expect(xml).toContain('mem-path=/t,,x/memory,share=on');
  });

  it('escapes every value', () => {
    const xml = buildDomainXml(
      spec({
        cmdline: `a<b & c='d' "e"`,
        kernel: `/k'<>&`,
        disks: [{ path: `/d'&.qcow2`, format: 'qcow2' }],
        metadata: { vm: `v'"<`, host: 'h&', kind: 'vm', created: 'T' },
        memory: { mode: 'template', ramId: 'r', memPath: `/m'&<`, share: true },
      }),
    );
    expect(xml).toContain('<cmdline>a&lt;b &amp; c=&apos;d&apos; &quot;e&quot;</cmdline>');
    expect(xml).toContain('<kernel>/k&apos;&lt;&gt;&amp;</kernel>');
    expect(xml).toContain(`<source file='/d&apos;&amp;.qcow2'/>`);
    expect(xml).toContain(`vm='v&apos;&quot;&lt;' host='h&amp;'`);
    expect(xml).toContain('mem-path=/m&apos;&amp;&lt;');
    expect(() => escapeXml('a\u0001b')).toThrow();
  });

  it('rejects malformed specs instead of emitting bad XML', () => {
    expect(() => buildDomainXml(spec({ name: 'has space' }))).toThrow(/name/);
    expect(() => buildDomainXml(spec({ uuid: 'nope' }))).toThrow(/uuid/);
    expect(() => buildDomainXml(spec({ type: 'tcg' as never }))).toThrow(/type/);
    expect(() => buildDomainXml(spec({ vcpus: 0 }))).toThrow(/vcpus/);
    expect(() => buildDomainXml(spec({ memoryMib: 1.5 }))).toThrow(/memoryMib/);
    expect(() => buildDomainXml(spec({ nic: { mac: 'zz', network: 'tap', tap: 'fkt1' } }))).toThrow(/mac/);
    expect(() => buildDomainXml(spec({ nic: { mac: '0a:f0:4d:12:34:56', network: 'tap', tap: 'a/b' } }))).toThrow(/tap/);
    expect(() => buildDomainXml(spec({ nic: { mac: '0a:f0:4d:12:34:56', network: 'tap', tap: 'x'.repeat(16) } }))).toThrow(/tap/);
    expect(() => buildDomainXml(spec({ memory: { mode: 'template', ramId: 'x,y', memPath: '/m', share: true } }))).toThrow(/ramId/);
    expect(() => buildDomainXml(spec({ memory: { mode: 'template', ramId: 'r', memPath: 'rel', share: true } }))).toThrow(/memPath/);
    expect(() =>
      buildDomainXml(spec({ memory: { mode: 'clone', ramId: 'r', memPath: '/m', share: true as never, incoming: 'defer' } })),
    ).toThrow(/sharing/);
  });

  it('is deterministic: the same spec gives the same XML', () => {
    expect(buildDomainXml(spec())).toBe(buildDomainXml(spec()));
  });
});

describe('the TCG code buffer (FORKD_TCG_TB_CACHE_MIB)', () => {
  afterEach(() => configureTcg({ tbCacheMib: null }));

  it('sizes it under TCG when set, and leaves QEMU\'s default otherwise', () => {
    expect(buildDomainXml(spec({ type: 'qemu' }))).not.toContain('<tcg>'); // unset: QEMU's default
    configureTcg({ tbCacheMib: 32 });
    expect(buildDomainXml(spec({ type: 'qemu' }))).toContain(`<features><acpi/><tcg><tb-cache unit='MiB'>32</tb-cache></tcg></features>`);
  });

  it('never under KVM, whose domains have no translated code (libvirt refuses <tcg> there)', () => {
    configureTcg({ tbCacheMib: 32 });
    expect(buildDomainXml(spec({ type: 'kvm' }))).not.toContain('<tcg>');
  });
});
