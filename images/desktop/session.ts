// The desktop session the image starts: the container's command. Xvnc listens
// on the guest's loopback only (forkd reaches it through the agent's port
// forward, so the guest needs no network to the host), with a VNC password
// that forkd rotates after every fork (Xvnc re-reads the file at each login).

/** Where the image keeps the session script, and the port Xvnc answers on inside the guest. */
export const DESKTOP_SESSION_PATH = '/usr/local/bin/forkd-desktop';
export const DESKTOP_VNC_PORT = 5901;
/** The password file forkd rewrites after a fork (0600, root's). */
export const DESKTOP_PASSWORD_FILE = '/run/forkd-desktop/passwd';

export const DESKTOP_SESSION_SCRIPT = `#!/bin/sh
# forkd-desktop: Xvnc on display :1 (loopback only), a window manager, a terminal.
set -eu
geometry="\${FORKD_DESKTOP_GEOMETRY:-1280x800}"
run=/run/forkd-desktop
mkdir -p "$run"
chmod 700 "$run"
umask 077
# A first password; forkd writes a new one after every fork, before anyone connects.
if [ ! -s ${DESKTOP_PASSWORD_FILE} ]; then
  head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \\n' | tigervncpasswd -f > ${DESKTOP_PASSWORD_FILE}
fi
export HOME=/root DISPLAY=:1
Xvnc :1 -geometry "$geometry" -depth 24 -localhost=1 -rfbport ${DESKTOP_VNC_PORT} \\
  -SecurityTypes VncAuth -PasswordFile ${DESKTOP_PASSWORD_FILE} -AcceptSetDesktopSize=1 \\
  -extension GLX -nolisten tcp &
xvnc=$!
# Clients need the X socket; Xvnc makes it within tens of ms.
i=0
while [ ! -S /tmp/.X11-unix/X1 ]; do
  i=$((i + 1)); [ $i -lt 600 ] || { echo "forkd-desktop: Xvnc did not start" >&2; exit 1; }
  sleep 0.1
done
matchbox-window-manager -use_titlebar no &
# A terminal, and another when the user closes it.
( while kill -0 $xvnc 2>/dev/null; do xterm -fa 'DejaVu Sans Mono' -fs 11 || sleep 1; done ) &
echo "forkd-desktop: ready on :1, VNC port ${DESKTOP_VNC_PORT}, $geometry"
wait $xvnc
`;
