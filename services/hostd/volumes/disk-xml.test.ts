import { describe, expect, it } from 'vitest';
import { ForkdError } from '../../contracts/errors.js';
import { VOLUME_FIRST_SLOT, volumeDiskXml, volumeSerial } from './disk-xml.js';

describe('a volume disk for hot-plug', () => {
  it('is a raw virtio disk with the volume\'s serial on its own root-bus slot', () => {
    const xml = volumeDiskXml({ path: '/var/volumes/v1.img', serial: 'abc123', readOnly: false, index: 0 });
    expect(xml).toContain(`<driver name='qemu' type='raw' discard='unmap'/>`);
    expect(xml).toContain(`<source file='/var/volumes/v1.img'/>`);
    expect(xml).toContain(`<target dev='vdp' bus='virtio'/>`);
    expect(xml).toContain('<serial>abc123</serial>');
    expect(xml).toContain(`bus='0x00' slot='0x${VOLUME_FIRST_SLOT.toString(16)}'`);
    expect(xml).not.toContain('<readonly/>');
  });

  it('takes the next slot and target for the next volume, and is read-only when asked', () => {
    const xml = volumeDiskXml({ path: '/v', serial: 's', readOnly: true, index: 2 });
    expect(xml).toContain(`slot='0x12'`);
    expect(xml).toContain(`<target dev='vdr'`);
    expect(xml).toContain('<readonly/>');
  });

  it('escapes the path and refuses a ninth volume or a serial that is not alphanumeric', () => {
    expect(volumeDiskXml({ path: "/a'b", serial: 's', readOnly: false, index: 0 })).toContain("/a&apos;b");
    expect(() => volumeDiskXml({ path: '/v', serial: 's', readOnly: false, index: 8 })).toThrow(ForkdError);
    expect(() => volumeDiskXml({ path: '/v', serial: "s'", readOnly: false, index: 0 })).toThrow(ForkdError);
  });

  it('serial: the id without dashes, cut to virtio-blk\'s 20 bytes', () => {
    expect(volumeSerial('0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b')).toBe('0190a1b2c3d47e5f8a9b');
    expect(volumeSerial('short')).toBe('short');
  });
});
