#!/usr/bin/env node
// Bundles the guest agent (services/agent/main.ts and everything it imports) into
// one ESM file, dist/agent/agent.mjs, which the guest image builder copies to
// /opt/forkd/agent.mjs. Plain JS so it runs before anything is compiled:
//
//   node images/guest/bundle-agent.mjs
//
// Exits 0 with a note when services/agent/main.ts does not exist yet.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const entry = join(root, 'services', 'agent', 'main.ts');
const outfile = join(root, 'dist', 'agent', 'agent.mjs');

if (!existsSync(entry)) {
  console.log(`bundle-agent: ${relative(root, entry)} does not exist yet; no agent bundle built`);
  process.exit(0);
}

const { build } = await import('esbuild');
mkdirSync(dirname(outfile), { recursive: true });
const started = Date.now();
const result = await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
  // CommonJS dependencies call require(); an ESM bundle has none unless we make one.
  banner: {
    js: [
      "import { createRequire as __forkdCreateRequire } from 'node:module';",
      "import { fileURLToPath as __forkdFileURLToPath } from 'node:url';",
      "import { dirname as __forkdDirname } from 'node:path';",
      'const require = __forkdCreateRequire(import.meta.url);',
      'const __filename = __forkdFileURLToPath(import.meta.url);',
      'const __dirname = __forkdDirname(__filename);',
    ].join('\n'),
  },
});
if (result.errors.length > 0) process.exit(1);
console.log(`bundle-agent: ${relative(root, outfile)} (${Math.round(statSync(outfile).size / 1024)} KiB) in ${Date.now() - started} ms`);
