#!/usr/bin/env node
// The CLI entry point: runs the compiled CLI. `npm run build` produces dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

// hostd runs every blocking libvirt call on libuv's pool and libvirt's event
// loop holds one pool thread for good: 4 threads (the default) is too few.
process.env.UV_THREADPOOL_SIZE ??= '16';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const entry = join(root, 'dist', 'services', 'cli', 'main.js');
if (!existsSync(entry)) {
  process.stderr.write(`forkd: not built yet (${entry} is missing). Run \`npm run build\` in ${root}.\n`);
  process.exit(1);
}
await import(entry);
