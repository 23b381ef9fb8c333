// Test images built in memory: a one-layer image whose layer is a tar made with
// forkd's own tar writer. `busyboxImage` packs the host's static busybox with
// its applet symlinks (the in-guest test runs containers from it); `tinyImage`
// packs a few small files (host unit tests). Not used in production.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeTar, type TarInput } from '../../../images/containers/tar/writer.js';

export interface TestImage {
  id: string;
  config: { Env?: string[]; Cmd?: string[]; Entrypoint?: string[]; WorkingDir?: string; User?: string };
  layers: Array<{ diffId: string; size: number; tar: Buffer }>;
}

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export async function tarOf(entries: TarInput[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const p of writeTar(entries)) parts.push(p);
  return Buffer.concat(parts);
}

const BASE_DIRS = ['bin', 'dev', 'etc', 'proc', 'root', 'sys', 'tmp', 'usr', 'usr/bin', 'usr/sbin', 'sbin', 'var'];

function etcEntries(): TarInput[] {
  const passwd = Buffer.from('root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1000::/tmp:/bin/sh\n');
  const group = Buffer.from('root:x:0:\nnogroup:x:65534:\napp:x:1000:\nextra:x:2000:app\n');
  return [
    { name: 'etc/passwd', type: 'file', mode: 0o644, body: passwd },
    { name: 'etc/group', type: 'file', mode: 0o644, body: group },
  ];
}

export async function imageOf(entries: TarInput[], config: TestImage['config']): Promise<TestImage> {
  const tar = await tarOf(entries);
  const diffId = sha(tar);
  const fullConfig = { config, rootfs: { type: 'layers', diff_ids: [diffId] } };
  return { id: sha(JSON.stringify(fullConfig)), config, layers: [{ diffId, size: tar.length, tar }] };
}

export async function busyboxImage(busybox = '/bin/busybox'): Promise<TestImage> {
  const applets = execFileSync(busybox, ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => /^[a-z0-9_.[-]+$/.test(a) && a !== 'busybox');
  const entries: TarInput[] = [
    ...BASE_DIRS.map((d): TarInput => ({ name: `${d}/`, type: 'directory', mode: d === 'tmp' ? 0o1777 : 0o755 })),
    { name: 'bin/busybox', type: 'file', mode: 0o755, body: readFileSync(busybox) },
    ...applets.map((a): TarInput => ({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox', mode: 0o777 })),
    ...etcEntries(),
  ];
  return imageOf(entries, { Env: ['PATH=/bin:/usr/bin', 'IMAGE_VAR=1'], Cmd: ['sh'], WorkingDir: '/' });
}

export async function tinyImage(): Promise<TestImage> {
  return imageOf(
    [
      ...BASE_DIRS.map((d): TarInput => ({ name: `${d}/`, type: 'directory', mode: 0o755 })),
      { name: 'bin/hello', type: 'file', mode: 0o755, body: Buffer.from('#!/bin/sh\necho hello\n') },
      { name: 'bin/link', type: 'symlink', linkname: 'hello' },
      ...etcEntries(),
    ],
    { Env: ['PATH=/bin'], Entrypoint: ['/bin/hello'], User: 'app' },
  );
}
