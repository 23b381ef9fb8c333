import { defineConfig } from 'vitest/config';
import ForkdSequencer from './test/sequencer.js';

// Two projects: `unit` tests pure logic beside the code; `integration` drives the
// real libvirtd, QEMU guests, Redis and SQLite. Integration files run one at a
// time because guests under TCG share two cores.
// Test workers inherit this: libvirt calls and libvirt's event loop share libuv's pool.
process.env.UV_THREADPOOL_SIZE ??= '16';

export default defineConfig({
  test: {
    reporters: ['default', './test/summary-reporter.ts'],
    // Files whose set-up is built in the background run last (test/sequencer.ts).
    sequence: { sequencer: ForkdSequencer },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['services/**/*.test.ts', 'native/**/*.test.ts', 'prisma/**/*.test.ts', 'images/**/*.test.ts', 'ops/**/*.test.ts', 'test/bench/**/*.test.ts'],
          exclude: ['**/*.int.test.ts', 'node_modules/**', 'dist/**'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['**/*.int.test.ts', 'test/**/*.test.ts'],
          exclude: ['node_modules/**', 'dist/**', 'test/bench/**'],
          fileParallelism: false,
          globalSetup: ['./test/global-setup.ts'],
          testTimeout: 300_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
