import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compareKernelVersions, findHostKernel } from './kernel.js';

describe('guest kernel discovery', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'forkd-kernel-test-'));
    await mkdir(join(root, 'boot'));
    await mkdir(join(root, 'modules'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });
  const loc = () => ({ bootDir: join(root, 'boot'), modulesRoot: join(root, 'modules') });
  async function kernel(version: string, config: string | null, modules = true) {
    await writeFile(join(root, 'boot', `vmlinuz-${version}`), 'k');
    if (config !== null) await writeFile(join(root, 'boot', `config-${version}`), config);
    if (modules) {
      await mkdir(join(root, 'modules', version));
      await writeFile(join(root, 'modules', version, 'modules.dep'), '');
    }
  }

  it('orders versions numerically', () => {
    expect(['6.1.0-56-amd64', '6.1.0-9-amd64', '6.10.0-1-amd64'].sort(compareKernelVersions)).toEqual(['6.1.0-9-amd64', '6.1.0-56-amd64', '6.10.0-1-amd64']);
  });

  it('picks the newest kernel that has its modules installed', async () => {
    await kernel('6.1.0-9-amd64', 'CONFIG_RD_GZIP=y\n');
    await kernel('6.1.0-56-amd64', 'CONFIG_RD_ZSTD=y\n');
    await kernel('6.1.0-99-amd64', 'CONFIG_RD_GZIP=y\n', false);
    const k = await findHostKernel(loc());
    expect(k.version).toBe('6.1.0-56-amd64');
    expect(k.image).toBe(join(root, 'boot', 'vmlinuz-6.1.0-56-amd64'));
    expect(k.compression).toBe('zstd');
  });

  it('prefers gzip when the kernel unpacks both', async () => {
    await kernel('6.1.0-56-amd64', 'CONFIG_RD_GZIP=y\nCONFIG_RD_ZSTD=y\n');
    expect((await findHostKernel(loc())).compression).toBe('gzip');
  });

  it('says that linux-image-amd64 must be installed when there is no kernel', async () => {
    await expect(findHostKernel(loc())).rejects.toMatchObject({ code: 'ERR_CONFIG', message: expect.stringContaining('linux-image-amd64') });
    await expect(findHostKernel({ bootDir: join(root, 'nope') })).rejects.toMatchObject({ code: 'ERR_CONFIG' });
  });
});
