import { describe, expect, it } from 'vitest';
import { ForkdError } from '../../contracts/errors.js';
import { startFailure } from './errors.js';

const start = (m: string) => startFailure(new ForkdError('ERR_CONTAINER_START', m)) as ForkdError;

describe('start failures', () => {
  it('carry the words the CLI maps to 127 and 126', () => {
    expect(start('executable file `/no/such` not found: No such file or directory').message).toMatch(/executable file not found$/);
    expect(start('open `/bin/x`: Permission denied').message).toMatch(/: permission denied$/);
  });

  it('leave messages that already say it, and other errors, as they are', () => {
    expect(start('stat /x: no such file or directory').message).toBe('stat /x: no such file or directory');
    expect(start('cgroup setup failed').message).toBe('cgroup setup failed');
    const other = new ForkdError('ERR_CONFLICT', 'not found');
    expect(startFailure(other)).toBe(other);
  });
});
