#!/usr/bin/env node
// The CLI entry point: runs the compiled CLI. `npm run build` produces dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const entry = join(root, 'dist', 'services', 'cli', 'main.js');
if (!existsSync(entry)) {
  process.stderr.write(`forkd: not built yet (${entry} is missing). Run \`npm run build\` in ${root}.\n`);
  process.exit(1);
}
await import(entry);
