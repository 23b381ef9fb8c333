// The default order (unknown and larger files first) with the files whose
// set-up is built in the background (global-setup.ts) moved to the end of
// their project, so that build has the whole run to finish in.
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const LAST = ['test/desktop.test.ts'];

export default class ForkdSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const last = (f: TestSpecification) => LAST.some((p) => f.moduleId.endsWith(p));
    return [...sorted.filter((f) => !last(f)), ...sorted.filter(last)];
  }
}
