// A log stream opened while its container is being made waits for the create
// (creates-in-flight.ts): never for one that already ended, never forever.
import { describe, expect, it } from 'vitest';
import { CreatesInFlight } from './creates-in-flight.js';

const never = new AbortController().signal;
const state = async (p: Promise<void>): Promise<string> => Promise.race([p.then(() => 'settled', (e: Error) => `rejected: ${e.message}`), new Promise<string>((r) => setTimeout(() => r('waiting'), 10))]);

describe('a log stream waiting for its container\'s create', () => {
  it('goes on at once when the VM is there and no create of it runs', async () => {
    const creates = new CreatesInFlight();
    expect(await state(creates.settled('vm1', () => true, never))).toBe('settled');
  });

  it('waits while the create runs, even when the VM already exists, and goes on when it ends', async () => {
    const creates = new CreatesInFlight();
    creates.begin('vm1');
    const waiting = creates.settled('vm1', () => true, never);
    expect(await state(waiting)).toBe('waiting');
    creates.end('vm1');
    expect(await state(waiting)).toBe('settled');
  });

  it('waits for a create that has not reached this host yet (the API may still be building the template)', async () => {
    const creates = new CreatesInFlight();
    const waiting = creates.settled('vm1', () => false, never);
    expect(await state(waiting)).toBe('waiting');
    creates.begin('vm1');
    expect(await state(waiting)).toBe('waiting');
    creates.end('vm1');
    expect(await state(waiting)).toBe('settled');
  });

  it('does not wait for a create that already ended (failed, its VM gone)', async () => {
    const creates = new CreatesInFlight();
    creates.begin('vm1');
    creates.end('vm1');
    expect(await state(creates.settled('vm1', () => false, never))).toBe('settled');
  });

  it('forgets an ended create after five minutes', async () => {
    let now = 0;
    const creates = new CreatesInFlight(() => now);
    creates.begin('old');
    creates.end('old');
    now = 5 * 60_000 + 1;
    creates.begin('new');
    creates.end('new'); // an end sweeps what is older than five minutes
    expect(await state(creates.settled('old', () => false, never))).toBe('waiting');
    expect(await state(creates.settled('new', () => false, never))).toBe('settled');
  });

  it('stops waiting when the stream is cancelled, and gives up with ERR_TIMEOUT after its bound', async () => {
    const creates = new CreatesInFlight();
    const cancel = new AbortController();
    const waiting = creates.settled('vm1', () => false, cancel.signal);
    cancel.abort();
    expect(await state(waiting)).toBe('settled');
    const bounded = creates.settled('vm2', () => false, never, 5);
    await expect(bounded).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
  });

  it('wakes only the waiters of the VM whose create ended', async () => {
    const creates = new CreatesInFlight();
    const a = creates.settled('vm-a', () => false, never);
    const b = creates.settled('vm-b', () => false, never);
    creates.begin('vm-a');
    creates.end('vm-a');
    expect(await state(a)).toBe('settled');
    expect(await state(b)).toBe('waiting');
    creates.end('vm-b');
    expect(await state(b)).toBe('settled');
  });
});
