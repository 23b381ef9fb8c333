import { describe, expect, it } from 'vitest';
import { manifestDomainXml } from './manifest-domain.js';
import type { TemplateManifest } from './template-manifest.js';

const manifest = {
  formatVersion: 2, id: 'tmpl-a', imageId: 'img', kernel: '/k', initramfs: '/i', cmdline: 'console=ttyS0',
  vcpus: 2, memoryMib: 256, accel: 'tcg', qemuVersion: '7.2.0', machine: 'pc-i440fx-7.2', ramId: 'forkd-ram', network: null, createdAt: '',
  files: { memory: { size: 1, sha256: '', sampledSha256: '' }, state: { size: 1, sha256: '', sampledSha256: '' }, disk: { size: 1, sha256: '', sampledSha256: '' } },
} as unknown as TemplateManifest;

const base = {
  name: 'forkd-vm-x', uuid: '11111111-2222-3333-4444-555555555555', disk: '/d/disk.qcow2', agentSocket: '/d/agent.sock', consoleLog: '/d/console.log',
  metadata: { vm: 'x', host: 'h', kind: 'vm' as const, created: '2026-12-01T00:00:00Z' },
};

describe('manifestDomainXml: a clone and a freezer from one template', () => {
  it('take machine, vcpus, memory and kernel from the manifest and differ only in how RAM is mapped', () => {
    const clone = manifestDomainXml(manifest, { ...base, memory: { mode: 'clone', ramId: 'forkd-ram', memPath: '/t/memory', share: false, incoming: 'defer' } });
    const freezer = manifestDomainXml(manifest, { ...base, memory: { mode: 'freezer', ramId: 'forkd-ram', memPath: '/t/memory', share: true, incoming: 'defer' } });
    for (const xml of [clone, freezer]) {
      expect(xml).toContain("machine='pc-i440fx-7.2'");
      expect(xml).toContain('<vcpu');
      expect(xml).toContain("type='qemu'");
      expect(xml).toContain('/d/disk.qcow2');
      expect(xml).not.toContain('<interface');
    }
    expect(clone).toContain('share=off');
    expect(freezer).toContain('share=on');
    expect(clone.replace('share=off', 'share=on')).toBe(freezer);
  });
});
