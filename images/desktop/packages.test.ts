import { describe, expect, it } from 'vitest';
import { ForkdError } from '../../services/contracts/errors.js';
import { DEFAULT_DESKTOP_PACKAGES, desktopPackages } from './packages.js';
import { DESKTOP_SESSION_SCRIPT, DESKTOP_VNC_PORT } from './session.js';

describe('desktopPackages', () => {
  it('is the defaults, sorted and without duplicates, plus what is asked for (comma or space separated)', () => {
    expect(desktopPackages()).toEqual([...DEFAULT_DESKTOP_PACKAGES].sort());
    const p = desktopPackages('pcmanfm, xterm  x11-utils');
    expect(p).toContain('pcmanfm');
    expect(p).toContain('x11-utils');
    expect(p.filter((x) => x === 'xterm')).toHaveLength(1);
    expect(desktopPackages(['libc6:amd64'])).toContain('libc6:amd64');
  });

  it('refuses what is not a Debian package name, naming the field', () => {
    for (const bad of ['X', 'a', 'xterm;rm -rf /', '--allow-unauthenticated', 'pkg/evil']) {
      try {
        desktopPackages(bad);
        expect.unreachable(`accepted ${bad}`);
      } catch (err) {
        expect(err).toBeInstanceOf(ForkdError);
        expect((err as ForkdError).field).toBe('packages');
      }
    }
  });
});

describe('the session script', () => {
  it('serves VNC on the guest loopback only, with a password file, and resizable', () => {
    expect(DESKTOP_SESSION_SCRIPT).toMatch(/^#!\/bin\/sh\n/);
    expect(DESKTOP_SESSION_SCRIPT).toContain('-localhost=1');
    expect(DESKTOP_SESSION_SCRIPT).toContain(`-rfbport ${DESKTOP_VNC_PORT}`);
    expect(DESKTOP_SESSION_SCRIPT).toContain('-SecurityTypes VncAuth -PasswordFile');
    expect(DESKTOP_SESSION_SCRIPT).toContain('-AcceptSetDesktopSize=1');
    expect(DESKTOP_SESSION_SCRIPT).not.toMatch(/SecurityTypes None/);
  });
});
