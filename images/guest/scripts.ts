// The shell scripts baked into the guest. They are part of the content hash, so
// changing any of them rebuilds the image. All run under busybox sh (no systemd,
// no udev in the guest).

/** Name of the agent's virtio-serial port; the agent finds it in /sys/class/virtio-ports/<port>/name. */
export const AGENT_PORT_NAME = 'org.forkd.agent.0';
/** Printed on the serial console once init has started the agent. */
export const GUEST_READY_MARKER = 'FORKD-GUEST-READY';
/** Printed on the serial console when init cannot boot; the guest then powers off. */
export const GUEST_FAILED_MARKER = 'FORKD-GUEST-FAILED';
/** Printed on the serial console by the accelerator probe before it powers off. */
export const PROBE_MARKER = 'FORKD-PROBE-OK';

export const AGENT_PATH = '/opt/forkd/agent.mjs';
/** The static launcher of containers held ahead (images/guest/launcher/launch.c, services/agent/held.ts). */
export const LAUNCHER_PATH = '/opt/forkd/launch';
export const AGENT_LOG = '/var/log/forkd-agent.log';

/** Kernel command line of the guest. `root=`/`rootfstype=` are read by the initramfs. */
export const GUEST_CMDLINE = 'console=ttyS0 root=/dev/vda rootfstype=ext4 rw quiet panic=-1';
export const PROBE_CMDLINE = 'console=ttyS0 quiet panic=-1';

/** Initramfs /init: load the root disk's drivers, mount /dev/vda, switch_root. */
export const INITRAMFS_INIT = `#!/bin/busybox sh
# forkd guest initramfs: load the drivers the root disk needs, mount it, switch_root.
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /newroot
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
fail() { echo "${GUEST_FAILED_MARKER}: $*" > /dev/console; sleep 1; poweroff -f; }
root=/dev/vda
fstype=ext4
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    root=*) root="\${arg#root=}" ;;
    rootfstype=*) fstype="\${arg#rootfstype=}" ;;
  esac
done
# One module per line, dependencies first (the builder ordered them from modules.dep).
while read -r name; do
  [ -n "$name" ] || continue
  [ -d "/sys/module/$name" ] || insmod "/lib/modules/$name.ko" || fail "insmod $name"
done < /etc/modules.initramfs
i=0
while [ ! -b "$root" ]; do
  i=$((i + 1))
  [ "$i" -le 200 ] || fail "root disk $root did not appear"
  usleep 50000
done
mount -t "$fstype" -o rw "$root" /newroot || fail "cannot mount $root ($fstype)"
[ -x /newroot/sbin/init ] || fail "$root has no /sbin/init"
mount --move /dev /newroot/dev || fail "cannot move /dev"
umount /sys
umount /proc
exec switch_root /newroot /sbin/init
`;

/** Rootfs /sbin/init (PID 1): mounts, modules, names, then busybox init runs the agent. */
export const ROOTFS_INIT = `#!/bin/sh
# forkd guest init (PID 1). Prepares the system, then becomes busybox init, which
# reaps orphaned processes and respawns the agent (/etc/inittab, /etc/forkd/agent.sh).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
say() { echo "forkd-init: $*" > /dev/console; }
mounted() { grep -q " $1 " /proc/mounts; }
mount -t proc -o nosuid,nodev,noexec proc /proc
mounted /sys || mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
mounted /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup || say "cannot mount cgroup2"
# Hand every controller down so the agent (crun) can limit containers.
for c in $(cat /sys/fs/cgroup/cgroup.controllers 2>/dev/null); do
  echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || say "cgroup controller $c not delegated"
done
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /run
mkdir -p /run/forkd /var/log
# crun guards against CVE-2019-5736 (a container rewriting the runtime through
# /proc/self/exe) by re-executing itself from a private read-only copy on every
# call: ~50 ms of each crun process under TCG. A read-only bind mount of its
# binary is the same guard, made once: crun trusts it when the agent sets
# _LIBCONTAINER_CLONED_BINARY and checks that the mount is read-only itself.
mount --bind /usr/bin/crun /usr/bin/crun && mount -o remount,bind,ro /usr/bin/crun || say "crun is not on a read-only mount: every crun call re-executes itself"
# The rest of the modules (the initramfs loaded the root disk's), dependencies first.
while read -r name path; do
  [ -n "$name" ] || continue
  [ -d "/sys/module/$name" ] || insmod "/lib/modules/$(uname -r)/$path" || say "insmod $name failed"
done < /etc/forkd/modules.rootfs
hostname -F /etc/hostname
ip link set lo up
printf '127.0.0.1\\tlocalhost\\n::1\\t\\tlocalhost ip6-localhost ip6-loopback\\n127.0.1.1\\t%s\\n' "$(hostname)" > /etc/hosts
[ -s /etc/resolv.conf ] || echo '# forkd: the agent writes the nameservers here' > /etc/resolv.conf
say "system ready after $(cut -d' ' -f1 /proc/uptime)s, starting the agent"
exec /bin/busybox init
`;

/** busybox init's table: the agent is respawned whenever it exits. */
export const INITTAB = `# forkd guest: busybox init runs only the agent (see /etc/forkd/agent.sh).
::respawn:/etc/forkd/agent.sh
::shutdown:/bin/sync
`;

/** One run of the agent; busybox init starts it again when it exits. */
export const AGENT_SH = `#!/bin/sh
# One run of the forkd agent, logging to the console and ${AGENT_LOG}.
# busybox init (/etc/inittab) starts this again whenever it exits.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
export FORKD_AGENT_PORT=${AGENT_PORT_NAME}
log=${AGENT_LOG}
first=1
if [ -e /run/forkd/agent-runs ]; then
  first=0
  echo "forkd-init: agent exited, restarting in 1s" > /dev/console
  sleep 1
fi
echo run >> /run/forkd/agent-runs
# Keep the log bounded: one previous generation.
if [ -f "$log" ] && [ "$(wc -c < "$log")" -gt 4194304 ]; then mv -f "$log" "$log.1"; fi
{ node ${AGENT_PATH} 2>&1; echo "forkd-init: agent exited with status $?"; } | tee -a "$log" > /dev/console &
[ "$first" = 1 ] && echo "${GUEST_READY_MARKER}" > /dev/console
wait
`;

/** The accelerator probe's whole userspace: say it booted, power off. */
export const PROBE_INIT = `#!/bin/busybox sh
# forkd accelerator probe: proves a guest booted, then powers off at once.
/bin/busybox echo ${PROBE_MARKER} > /dev/console
/bin/busybox poweroff -f
`;
