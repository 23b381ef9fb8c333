import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadDeviceState, restoreDeviceState, saveDeviceState } from './device-state.js';
import { domainQmp, parseQmpReply, QmpError, type Qmp } from './qmp.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'forkd-devstate-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Call {
  execute: string;
  args: Record<string, unknown> | undefined;
  fds: number[] | undefined;
}

/** A fake QEMU: records commands, answers query-migrate from a script. */
function fakeQmp(statuses: Array<{ status: string; 'error-desc'?: string }>): { qmp: Qmp; calls: Call[] } {
  const calls: Call[] = [];
  const qmp: Qmp = async (execute, args, fds) => {
    calls.push({ execute, args, fds });
    if (execute === 'query-migrate') return statuses.length > 1 ? statuses.shift() : statuses[0];
    return {};
  };
  return { qmp, calls };
}

describe('saveDeviceState', () => {
  it('stops, ignores shared RAM, passes a file descriptor and waits for completion', async () => {
    const { qmp, calls } = fakeQmp([{ status: 'setup' }, { status: 'active' }, { status: 'completed' }]);
    const path = join(dir, 'state');
    await saveDeviceState(qmp, path, { pollMs: 1 });
    expect(calls.map((c) => c.execute)).toEqual(['stop', 'migrate-set-capabilities', 'getfd', 'migrate', 'query-migrate', 'query-migrate', 'query-migrate']);
    expect(calls[1]!.args).toEqual({ capabilities: [{ capability: 'x-ignore-shared', state: true }] });
    const getfd = calls[2]!;
    expect(getfd.fds).toHaveLength(1);
    const fdname = getfd.args!['fdname'] as string;
    expect(calls[3]!.args).toEqual({ uri: `fd:${fdname}` });
    expect((await stat(path)).isFile()).toBe(true);
    expect(JSON.stringify(calls)).not.toContain('exec:');
  });

  it('reports a failed migration with QEMU\'s reason', async () => {
    const { qmp } = fakeQmp([{ status: 'failed', 'error-desc': 'disk full' }]);
    await expect(saveDeviceState(qmp, join(dir, 'state'), { pollMs: 1 })).rejects.toThrow(/failed: disk full/);
  });

  it('gives up after its timeout', async () => {
    const { qmp } = fakeQmp([{ status: 'active' }]);
    await expect(saveDeviceState(qmp, join(dir, 'state'), { pollMs: 1, timeoutMs: 20 })).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
  });
});

describe('loadDeviceState / restoreDeviceState', () => {
  it('ignores shared RAM, passes the state file read-only, migrates in, then resumes', async () => {
    const path = join(dir, 'state');
    await saveDeviceState(fakeQmp([{ status: 'completed' }]).qmp, path, { pollMs: 1 });
    const { qmp, calls } = fakeQmp([{ status: 'active' }, { status: 'completed' }]);
    let resumed = 0;
    await restoreDeviceState(qmp, { resume: async () => void resumed++ }, path, { pollMs: 1 });
    expect(calls.map((c) => c.execute)).toEqual(['migrate-set-capabilities', 'getfd', 'migrate-incoming', 'query-migrate', 'query-migrate']);
    expect(calls[2]!.args).toEqual({ uri: `fd:${calls[1]!.args!['fdname'] as string}` });
    expect(resumed).toBe(1);
  });

  it('fails before QEMU sees anything when the state file is missing', async () => {
    const { qmp, calls } = fakeQmp([{ status: 'completed' }]);
    await expect(loadDeviceState(qmp, join(dir, 'nope'), { pollMs: 1 })).rejects.toThrow(/ENOENT/);
    expect(calls.map((c) => c.execute)).toEqual(['migrate-set-capabilities']);
  });
});

describe('qmp', () => {
  it('turns QMP errors into QmpError (ERR_LIBVIRT)', () => {
    expect(parseQmpReply('x', '{"return":{"a":1}}')).toEqual({ a: 1 });
    expect(() => parseQmpReply('migrate', '{"error":{"class":"GenericError","desc":"nope"}}')).toThrow(QmpError);
    expect(() => parseQmpReply('x', 'garbage')).toThrow(/not JSON/);
  });

  it('uses the files variant only when passing descriptors, and accepts either reply shape', async () => {
    const seen: string[] = [];
    const dom = {
      qemuMonitorCommand: async (cmd: string) => (seen.push(`plain ${cmd}`), '{"return":{}}'),
      qemuMonitorCommandWithFiles: async (cmd: string, fds: number[]) => (seen.push(`files ${fds.join(',')} ${cmd}`), { result: '{"return":{}}', fds: [] }),
    };
    const qmp = domainQmp(dom);
    await qmp('stop');
    await qmp('getfd', { fdname: 'a' }, [7]);
    expect(seen).toEqual(['plain {"execute":"stop"}', 'files 7 {"execute":"getfd","arguments":{"fdname":"a"}}']);
  });
});
