// redis:local: the busybox layer (for a shell) plus a layer with the host's
// redis-server and every library `ldd` says it loads, written as an OCI image
// layout with gzip layers by default.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { busyboxLayer, PATH_ENV } from './busybox.js';
import { writeImageArchive, type ArchiveOptions, type BuiltArchive } from './image-writer.js';
import { LayerTree } from './layer-tree.js';

const run = promisify(execFile);

export const REDIS_HOST_PATH = '/usr/bin/redis-server';
export const REDIS_CMD = ['redis-server', '--port', '6379', '--protected-mode', 'no', '--save', ''];

/** Absolute paths of the shared objects `ldd` lists for `binary` (the vdso excluded). */
export async function sharedLibraries(binary: string): Promise<string[]> {
  const { stdout } = await run('ldd', [binary]);
  const libs = new Set<string>();
  for (const line of stdout.split('\n')) {
    if (/not found/.test(line)) throw new Error(`ldd ${binary}: ${line.trim()}`);
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (m !== null) libs.add(m[1] as string);
  }
  return [...libs].sort();
}

export async function redisLayer(redis = REDIS_HOST_PATH): Promise<Buffer> {
  const tree = new LayerTree();
  // A regular file named redis-server: redis picks its mode from argv[0].
  await tree.hostFile(redis, 'usr/bin/redis-server');
  for (const lib of await sharedLibraries(redis)) await tree.hostPath(lib);
  tree.dir('data');
  return tree.tar();
}

/** Writes redis:local (OCI layout, gzip layers unless told otherwise). */
export async function buildRedisImage(outFile: string, opts: Partial<ArchiveOptions> = {}): Promise<BuiltArchive> {
  return writeImageArchive(
    outFile,
    {
      repoTag: 'redis:local',
      config: { Env: [PATH_ENV], Cmd: REDIS_CMD, WorkingDir: '/data', ExposedPorts: { '6379/tcp': {} } },
      layers: [await busyboxLayer(), await redisLayer()],
    },
    { format: 'oci', layerCompression: 'gzip', ...opts },
  );
}
