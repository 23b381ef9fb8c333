// The in-process link calls a take makes (link-calls.ts) do what the two `ip`
// commands did: a tap into a network's namespace, onto its bridge and up;
// failures name the call and errno; and the calling thread ends in the host's
// own namespace every time. Real kernel objects, made and removed by their
// own names (a namespace and a tap with forkd's prefixes).
import { execFileSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linkCalls, LinkCallError } from './link-calls.js';

const NS = `forkd-n-lctest${process.pid}`;
const NS_PATH = `/run/netns/${NS}`;
const TAP = `fktlc${process.pid % 1_000_000}`;
const TAP2 = `fktld${process.pid % 1_000_000}`;
const ipc = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

interface LinkJson { ifname: string; master?: string; flags: string[] }
const linkIn = (ns: string | null, name: string): LinkJson | null => {
  try {
    return (JSON.parse(ipc(...(ns ? ['-n', ns] : []), '-j', 'link', 'show', 'dev', name)) as LinkJson[])[0] ?? null;
  } catch {
    return null;
  }
};

beforeAll(() => {
  ipc('netns', 'add', NS);
  ipc('-n', NS, 'link', 'add', 'br0', 'type', 'bridge');
  ipc('-n', NS, 'link', 'set', 'br0', 'up');
  ipc('tuntap', 'add', 'dev', TAP, 'mode', 'tap');
  ipc('tuntap', 'add', 'dev', TAP2, 'mode', 'tap');
});

afterAll(() => {
  // Deleting the namespace deletes the bridge and a tap moved into it.
  try { ipc('netns', 'del', NS); } catch { /* not made */ }
  for (const tap of [TAP, TAP2]) {
    try { ipc('link', 'del', 'dev', tap); } catch { /* moved and gone with the namespace */ }
  }
});

describe('a tap joining a network\'s bridge in-process', () => {
  const calls = linkCalls();

  it('has the calls bound (koffi is a dependency)', () => {
    expect(calls).not.toBeNull();
  });

  it('moves the tap into the namespace, enslaves it to the bridge and brings it up, leaving this thread in its own namespace', () => {
    const own = readlinkSync('/proc/thread-self/ns/net');
    calls!.moveToNetns(TAP, NS_PATH);
    expect(linkIn(null, TAP)).toBeNull();
    expect(linkIn(NS, TAP)).toMatchObject({ ifname: TAP });
    calls!.enslaveUp(NS_PATH, TAP, 'br0');
    const tap = linkIn(NS, TAP)!;
    expect(tap.master).toBe('br0');
    expect(tap.flags).toContain('UP');
    expect(readlinkSync('/proc/thread-self/ns/net')).toBe(own);
  });

  it('names the call and the errno when the link, the bridge or the namespace is missing, while the same calls on real ones succeed', () => {
    const own = readlinkSync('/proc/thread-self/ns/net');
    const moveMissing = (() => { try { calls!.moveToNetns('fktnosuch0', NS_PATH); return null; } catch (e) { return e; } })();
    expect(moveMissing).toBeInstanceOf(LinkCallError);
    expect((moveMissing as LinkCallError).message).toMatch(/fktnosuch0.*ENODEV/);
    calls!.moveToNetns(TAP2, NS_PATH); // control: a link that exists moves
    expect(linkIn(NS, TAP2)).toMatchObject({ ifname: TAP2 });
    const noBridge = (() => { try { calls!.enslaveUp(NS_PATH, TAP2, 'brnosuch'); return null; } catch (e) { return e; } })();
    expect((noBridge as LinkCallError).message).toMatch(/SIOCBRADDIF brnosuch/);
    const noNs = (() => { try { calls!.enslaveUp('/run/netns/forkd-n-nosuch', TAP2, 'br0'); return null; } catch (e) { return e; } })();
    expect((noNs as LinkCallError).message).toMatch(/open \/run\/netns\/forkd-n-nosuch.*ENOENT/);
    calls!.enslaveUp(NS_PATH, TAP2, 'br0'); // control: the real bridge in the real namespace takes it
    expect(linkIn(NS, TAP2)?.master).toBe('br0');
    expect(readlinkSync('/proc/thread-self/ns/net')).toBe(own);
  });
});
