// What goes into the desktop image: the Debian packages of a minimal desktop
// and the paths dpkg leaves out to keep it small. Chosen for TCG: Xvnc (TigerVNC:
// an X server that is its own VNC server, ready in tens of ms), matchbox (a
// window manager of ~11 MB that keeps one window maximised, right for a
// browser tab) and xterm. A file manager or a browser fit `--packages`;
// Chromium alone triples the image and is slow to start under TCG.
import { ForkdError } from '../../services/contracts/errors.js';

export const DESKTOP_SUITE = 'bookworm';

export const DEFAULT_DESKTOP_PACKAGES: readonly string[] = [
  'tigervnc-standalone-server', // Xvnc
  'tigervnc-tools', // tigervncpasswd: the VNC password file (Node's OpenSSL refuses the DES it needs)
  'matchbox-window-manager',
  'xterm',
  'fonts-dejavu-core',
];

/**
 * Left out by dpkg: documentation, manuals, translations, and Mesa's software
 * GL (LLVM, DRI drivers, z3) that Xvnc's libgl1 pulls in and a VNC desktop
 * without GLX never loads. About 365 MB down to 200 MB.
 */
export const DESKTOP_PATH_EXCLUDES: readonly string[] = [
  '/usr/share/doc/*', '/usr/share/man/*', '/usr/share/info/*', '/usr/share/locale/*',
  '/usr/lib/x86_64-linux-gnu/libLLVM*', '/usr/lib/x86_64-linux-gnu/dri/*', '/usr/lib/x86_64-linux-gnu/libz3*',
];

/** Debian package names (policy §5.6.1), optionally with an architecture qualifier. */
const PACKAGE_RE = /^[a-z0-9][a-z0-9+.-]{1,62}(:[a-z0-9-]+)?$/;

/** The package list: the defaults plus `extra` (a comma- or space-separated list); ERR_VALIDATION naming `packages` for a bad name. */
export function desktopPackages(extra: string | readonly string[] = []): string[] {
  const asked = (typeof extra === 'string' ? extra.split(/[\s,]+/) : [...extra]).filter((p) => p !== '');
  for (const p of asked) {
    if (!PACKAGE_RE.test(p)) throw new ForkdError('ERR_VALIDATION', `not a Debian package name: ${JSON.stringify(p)}`, { field: 'packages' });
  }
  return [...new Set([...DEFAULT_DESKTOP_PACKAGES, ...asked])].sort();
}
