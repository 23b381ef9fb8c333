import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ForkdError } from '../errors.js';
import { loadSecretKey, parseSecretKey } from './key.js';

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'forkd-secret-key-')); });
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('parseSecretKey (FORKD_SECRET_KEY)', () => {
  it('takes 32 bytes of base64 and refuses anything else, naming the variable', () => {
    const good = randomBytes(32);
    expect(parseSecretKey(good.toString('base64'))).toEqual(good);
    for (const bad of [randomBytes(16).toString('base64'), 'not base64 at all!!', good.toString('hex')]) {
      let err: unknown;
      try { parseSecretKey(bad); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(ForkdError);
      expect((err as ForkdError).code).toBe('ERR_CONFIG');
      expect((err as ForkdError).field).toBe('FORKD_SECRET_KEY');
    }
  });
});

describe('loadSecretKey', () => {
  it('makes the key file on first start (0600) and reads the same key after', async () => {
    const keyFile = join(dir, 'sub', 'secret.key');
    const first = await loadSecretKey({ keyFile, configured: undefined });
    expect(first).toHaveLength(32);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(await loadSecretKey({ keyFile, configured: undefined })).toEqual(first);
  });

  it('two processes starting together agree on one key', async () => {
    const keyFile = join(dir, 'secret.key');
    const keys = await Promise.all(Array.from({ length: 8 }, () => loadSecretKey({ keyFile, configured: undefined })));
    for (const k of keys) expect(k).toEqual(keys[0]);
    expect(readFileSync(keyFile, 'utf8').trim()).toBe(keys[0]!.toString('base64'));
  });

  it('FORKD_SECRET_KEY wins over the file, and then no file is made', async () => {
    const keyFile = join(dir, 'secret.key');
    const configured = randomBytes(32);
    expect(await loadSecretKey({ keyFile, configured })).toEqual(configured);
    expect(() => statSync(keyFile)).toThrow();
    expect(await loadSecretKey({ keyFile, configured: undefined })).not.toEqual(configured);
  });

  it('refuses a damaged key file instead of replacing it (its envelopes would be lost)', async () => {
    const keyFile = join(dir, 'secret.key');
    writeFileSync(keyFile, 'short\n');
    await expect(loadSecretKey({ keyFile, configured: undefined })).rejects.toMatchObject({ code: 'ERR_CONFIG' });
    writeFileSync(keyFile, randomBytes(32).toString('base64') + '\n');
    expect(await loadSecretKey({ keyFile, configured: undefined })).toHaveLength(32);
  });
});
