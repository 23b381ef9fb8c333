import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { AGENT_CGROUP, protectAgent, withOomScoreReset } from './protect.js';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('protectAgent', () => {
  it('sets oom_score_adj to -1000 and moves the agent into its own cgroup', async () => {
    dir = mkdtempSync(join(tmpdir(), 'forkd-protect-'));
    mkdirSync(join(dir, 'proc', '42'), { recursive: true });
    await protectAgent(join(dir, 'cg'), () => undefined, 42, join(dir, 'proc'));
    expect(readFileSync(join(dir, 'proc', '42', 'oom_score_adj'), 'utf8')).toBe('-1000');
    expect(readFileSync(join(dir, 'cg', AGENT_CGROUP, 'cgroup.procs'), 'utf8')).toBe('42');
  });

  it('logs and goes on when it cannot (no such process)', async () => {
    dir = mkdtempSync(join(tmpdir(), 'forkd-protect-'));
    const said: string[] = [];
    await protectAgent(join(dir, 'cg'), (m) => said.push(m), 42, join(dir, 'nope'));
    expect(said).toContain('could not set the agent\'s oom_score_adj');
  });
});

describe('withOomScoreReset', () => {
  it('runs the command with its arguments as given, through a shell that resets oom_score_adj first', () => {
    const [bin, args] = withOomScoreReset('/bin/echo', ['a b', '$HOME', '--x']);
    const r = spawnSync(bin, args, { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('a b $HOME --x\n');
    expect(r.stderr).toBe('');
  });
});
