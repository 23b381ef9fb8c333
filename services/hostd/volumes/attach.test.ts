import { describe, expect, it } from 'vitest';
import { ForkdError } from '../../contracts/errors.js';
import type { VolumeMount } from '../../contracts/jobs.js';
import type { ManagedVm } from '../vm/vm-manager.js';
import { attachVolumes, planVolumes } from './attach.js';
import type { VolumeStore } from './volume-store.js';

const ID_A = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';
const ID_B = '0190a1b2-c3d4-7e5f-8a9b-ffffffffffff'; // same first 20 characters without dashes as ID_A
const ID_C = '0190ffff-0000-7000-8000-000000000000';
const mount = (volumeId: string, path: string, readOnly = false): VolumeMount => ({ volumeId, name: `n-${path.slice(1)}`, path, readOnly });

function fakeStore(have: string[]): VolumeStore {
  return { has: (id: string) => have.includes(id), pathOf: (id: string) => `/vols/${id}.img` } as unknown as VolumeStore;
}

function fakeVm(): { vm: ManagedVm; plugged: string[] } {
  const plugged: string[] = [];
  const vm = { vmId: 'vm1', record: {}, domain: { attachDevice: async (xml: string) => { plugged.push(xml); } } } as unknown as ManagedVm;
  return { vm, plugged };
}

describe('planning a VM\'s volumes', () => {
  it('gives the agent each disk\'s serial and mount point', () => {
    expect(planVolumes(fakeStore([ID_A, ID_C]), [mount(ID_A, '/a'), mount(ID_C, '/c', true)])).toEqual([
      { serial: '0190a1b2c3d47e5f8a9b', destination: '/a', readOnly: false },
      { serial: '0190ffff000070008000', destination: '/c', readOnly: true },
    ]);
  });

  it('refuses a volume without a disk here, two volumes with one serial, and one path twice', () => {
    expect(() => planVolumes(fakeStore([]), [mount(ID_A, '/a')])).toThrow(/has no disk on this host/);
    expect(() => planVolumes(fakeStore([ID_A, ID_B]), [mount(ID_A, '/a'), mount(ID_B, '/b')])).toThrow(ForkdError);
    expect(() => planVolumes(fakeStore([ID_A, ID_C]), [mount(ID_A, '/a'), mount(ID_C, '/a')])).toThrow(/two volumes mount at \/a/);
  });
});

describe('attaching volumes', () => {
  it('hot-plugs each disk once: a retried create plugs nothing again', async () => {
    const { vm, plugged } = fakeVm();
    const volumes = [mount(ID_A, '/a'), mount(ID_C, '/c', true)];
    await attachVolumes(vm, fakeStore([ID_A, ID_C]), volumes);
    expect(plugged).toHaveLength(2);
    expect(plugged[0]).toContain(`<source file='/vols/${ID_A}.img'/>`);
    expect(plugged[1]).toContain('<readonly/>');
    expect(vm.record.volumes).toEqual([{ volumeId: ID_A, serial: '0190a1b2c3d47e5f8a9b' }, { volumeId: ID_C, serial: '0190ffff000070008000' }]);
    await attachVolumes(vm, fakeStore([ID_A, ID_C]), volumes);
    expect(plugged).toHaveLength(2);
  });

  it('plugs nothing for a container without volumes', async () => {
    const { vm, plugged } = fakeVm();
    expect(await attachVolumes(vm, fakeStore([]), [])).toEqual([]);
    expect(plugged).toEqual([]);
  });
});
