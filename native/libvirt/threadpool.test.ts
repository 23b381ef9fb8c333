import { describe, expect, it } from 'vitest';

import { RECOMMENDED_UV_THREADPOOL_SIZE, configureThreadpool, threadpoolSize } from './threadpool.js';

describe('threadpool sizing', () => {
  it("reads libuv's size from the environment, 4 when unset or invalid", () => {
    expect(threadpoolSize({})).toBe(4);
    expect(threadpoolSize({ UV_THREADPOOL_SIZE: 'x' })).toBe(4);
    expect(threadpoolSize({ UV_THREADPOOL_SIZE: '32' })).toBe(32);
  });

  it("raises an unset size and leaves the operator's choice alone", () => {
    const env: NodeJS.ProcessEnv = {};
    expect(configureThreadpool(undefined, env)).toBe(RECOMMENDED_UV_THREADPOOL_SIZE);
    expect(env.UV_THREADPOOL_SIZE).toBe('16');
    expect(configureThreadpool(16, { UV_THREADPOOL_SIZE: '6' })).toBe(6);
  });
});
