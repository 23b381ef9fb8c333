import { describe, expect, it } from 'vitest';
import { standaloneArgv } from './qemu-floor.js';

// A pool shell's argv as libvirt 9 gives it (shortened to what the rewrite touches).
const SHELL = [
  '/usr/bin/qemu-system-x86_64', '-name', 'guest=forkd-x,debug-threads=on', '-S',
  '-object', '{"qom-type":"secret","id":"masterKey0","format":"raw","file":"/var/lib/libvirt/qemu/d/master-key.aes"}',
  '-chardev', 'socket,id=charmonitor,fd=42,server=on,wait=off', '-mon', 'chardev=charmonitor,id=monitor,mode=control',
  '-blockdev', '{"driver":"file","filename":"/d/run/vms/x/disk.qcow2","node-name":"libvirt-1-storage"}',
  '-netdev', '{"type":"tap","fd":"43","id":"hostnet0"}',
  '-device', '{"driver":"virtio-net-pci","netdev":"hostnet0","id":"net0","mac":"0a:f0:4d:4b:ae:60"}',
  '-add-fd', 'set=0,fd=41,opaque=serial0-source', '-chardev', 'file,id=charserial0,path=/dev/fdset/0,append=on',
  '-chardev', 'socket,id=charchannel0,fd=40,server=on,wait=off',
  '-object', 'memory-backend-file,id=forkd-ram,size=256M,mem-path=/d/templates/t/memory,share=off',
  '-incoming', 'defer', '-sandbox', 'on,obsolete=deny,spawn=deny', '-msg', 'timestamp=on',
];

describe('raw-QEMU floor: a pool shell\'s command line made standalone', () => {
  const argv = standaloneArgv(SHELL, '/w', { from: '/d/run/vms/x/disk.qcow2', to: '/w/disk.qcow2' });

  it('keeps the machine, the devices and the template memory mapping as libvirt had them', () => {
    expect(argv[0]).toBe('/usr/bin/qemu-system-x86_64');
    expect(argv).toContain('{"driver":"virtio-net-pci","netdev":"hostnet0","id":"net0","mac":"0a:f0:4d:4b:ae:60"}');
    expect(argv).toContain('memory-backend-file,id=forkd-ram,size=256M,mem-path=/d/templates/t/memory,share=off');
    expect(argv.join(' ')).toContain('-incoming defer');
  });

  it('turns libvirt\'s descriptors into paths under its directory and gives the NIC a tap of its own on no bridge', () => {
    expect(argv).toContain('socket,id=charmonitor,path=/w/qmp.sock,server=on,wait=off');
    expect(argv).toContain('socket,id=charchannel0,path=/w/agent.sock,server=on,wait=off');
    expect(argv).toContain('file,id=charserial0,path=/w/console.log,append=on');
    expect(argv).toContain('{"type":"tap","id":"hostnet0","script":"no","downscript":"no"}');
    expect(argv.join(' ')).not.toMatch(/fd=\d|"fd"|fdset|-add-fd|masterKey0|-sandbox/);
  });

  it('writes to its own copy of the top disk layer, never the shell\'s', () => {
    expect(argv).toContain('{"driver":"file","filename":"/w/disk.qcow2","node-name":"libvirt-1-storage"}');
    expect(argv.join(' ')).not.toContain('/d/run/vms/x/disk.qcow2');
  });
});
