// busybox:latest from the host's static busybox: /bin/busybox, a symlink per
// applet (/bin/sh …), /etc/passwd, /etc/group and a sticky /tmp.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { writeImageArchive, type ArchiveOptions, type BuiltArchive } from './image-writer.js';
import { LayerTree } from './layer-tree.js';

const run = promisify(execFile);

export const BUSYBOX_HOST_PATH = '/bin/busybox';
export const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The busybox root layer (uncompressed tar); the redis image reuses it as its base. */
export async function busyboxLayer(busybox = BUSYBOX_HOST_PATH): Promise<Buffer> {
  const { stdout } = await run(busybox, ['--list-full']);
  const applets = stdout.split('\n').map((l) => l.trim()).filter((l) => l !== '' && l !== 'bin/busybox');
  if (!applets.includes('bin/sh')) throw new Error(`${busybox} has no sh applet`);
  const tree = new LayerTree();
  await tree.hostFile(busybox, 'bin/busybox');
  for (const a of applets) tree.symlink(a, '/bin/busybox');
  for (const d of ['dev', 'proc', 'sys', 'etc', 'var', 'usr/local/bin']) tree.dir(d);
  tree.dir('root', 0o700).dir('tmp', 0o1777).dir('var/tmp', 0o1777);
  tree.data('etc/passwd', 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
  tree.data('etc/group', 'root:x:0:\nnogroup:x:65534:\n');
  tree.data('etc/hostname', 'localhost\n');
  return tree.tar();
}

/** Writes busybox:latest as a `docker save` tarball (uncompressed layers by default). */
export async function buildBusyboxImage(outFile: string, opts: Partial<ArchiveOptions> = {}): Promise<BuiltArchive> {
  return writeImageArchive(
    outFile,
    { repoTag: 'busybox:latest', config: { Env: [PATH_ENV], Cmd: ['sh'] }, layers: [await busyboxLayer()] },
    { format: 'docker', ...opts },
  );
}
