// Ends every run with one plain line, `N passed, N failed, N skipped`, that any
// CI can read without knowing vitest's own summary format. Before it, where the
// time went: the slowest files, each split into its tests and the rest (its
// beforeAll/afterAll: stacks, images, templates, stops), since the suite has a
// 30-minute budget and a slow stop or set-up hides in no test's own time.
import type { Reporter, TestModule } from 'vitest/node';

const SLOWEST = 15;

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    const files: { file: string; total: number; tests: number }[] = [];
    for (const mod of testModules) {
      let inTests = 0;
      for (const test of mod.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else skipped++;
        inTests += test.diagnostic()?.duration ?? 0;
      }
      files.push({ file: mod.moduleId.replace(`${process.cwd()}/`, ''), total: mod.diagnostic().duration, tests: inTests });
    }
    if (files.length > 1) {
      files.sort((a, b) => b.total - a.total);
      const s = (ms: number) => (ms / 1000).toFixed(1).padStart(7);
      const rows = files.slice(0, SLOWEST).map((f) => `${s(f.total)} ${s(f.tests)} ${s(f.total - f.tests)}  ${f.file}`);
      process.stdout.write(`\nslowest files (s):   file   tests   hooks\n${rows.join('\n')}\n`);
    }
    process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
