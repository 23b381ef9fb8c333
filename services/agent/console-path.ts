// Where crun's console sockets go: a unix socket path must fit in 108 bytes,
// which a container directory (root + a 64-character id) may not.
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function consoleSocketPath(root: string, name: string): string {
  const h = createHash('sha256').update(`${root}\0${name}`).digest('hex').slice(0, 16);
  return join(tmpdir(), `forkd-console-${h}.sock`);
}
