#!/usr/bin/env node
// Writes prisma/postgresql/schema.prisma from prisma/schema.prisma, then runs
// `prisma generate` for both providers into prisma/generated/{sqlite,postgresql}
// (gitignored). Works offline: `prisma generate` only needs the schema engine
// path to name a file, since generating the client never runs it.
//
//   node prisma/generate.mjs          derive + generate both clients
//   node prisma/generate.mjs --check  exit 1 if postgresql/schema.prisma is stale
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { derivePostgresSchema } from './derive.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const source = join(here, 'schema.prisma');
const derived = join(here, 'postgresql', 'schema.prisma');

const want = derivePostgresSchema(readFileSync(source, 'utf8'));
let have = '';
try { have = readFileSync(derived, 'utf8'); } catch { /* first run */ }

if (process.argv.includes('--check')) {
  if (have !== want) {
    console.error('prisma/postgresql/schema.prisma is out of date: run `node prisma/generate.mjs`');
    process.exit(1);
  }
  process.exit(0);
}

if (have !== want) {
  writeFileSync(derived, want);
  console.log('wrote prisma/postgresql/schema.prisma');
}

const cli = join(dirname(createRequire(import.meta.url).resolve('prisma/package.json')), 'build', 'index.js');
const env = {
  ...process.env,
  PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? '/bin/true',
  CHECKPOINT_DISABLE: '1',
  PRISMA_HIDE_UPDATE_MESSAGE: '1',
};

function generate(config) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, 'generate', '--no-hints', '--config', config], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(output);
      else reject(new Error(`prisma generate --config ${config} failed (exit ${code}):\n${output}`));
    });
  });
}

try {
  const outputs = await Promise.all([
    generate(join(here, 'prisma.config.ts')),
    generate(join(here, 'postgresql', 'prisma.config.ts')),
  ]);
  for (const o of outputs) {
    const line = o.split('\n').find((l) => l.includes('Generated Prisma Client'));
    console.log(line?.trim() ?? o.trim());
  }
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
}
