import { describe, expect, it } from 'vitest';
import { baseName } from './pod-forks.js';

describe('a forked pod\'s container names', () => {
  it('drop the scope of the pod they were forked in, so a fork of a fork is <name>.<new pod>', () => {
    expect(baseName('web.app2', 'app2')).toBe('web');
    expect(baseName('web', 'app')).toBe('web');
  });

  it('keep a name that only looks scoped, or is nothing but the scope', () => {
    expect(baseName('web.app22', 'app2')).toBe('web.app22');
    expect(baseName('.app2', 'app2')).toBe('.app2');
  });
});
