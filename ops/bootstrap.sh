#!/usr/bin/env bash
# Prepares this host for forkd, idempotently: Debian packages, the libvirt
# daemons, npm dependencies (`npm ci`, when the lock changed), the build, the
# guest image, and a check that a guest really boots. `npm start` and
# `npm test` run it first; running it again on a prepared host takes a few
# seconds. Every failure names the missing piece.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
say() { printf '\033[1mforkd setup:\033[0m %s\n' "$*"; }
die() { printf '\033[1;31mforkd setup failed:\033[0m %s\n' "$*" >&2; exit 1; }

# --- 1. Debian packages -------------------------------------------------------
# command → package that provides it. The kernel is checked by file.
PACKAGES=(
  qemu-system-x86:qemu-system-x86_64
  qemu-utils:qemu-img
  libvirt-daemon-system:libvirtd
  libvirt-clients:virsh
  redis-server:redis-server
  crun:crun
  busybox-static:busybox
  e2fsprogs:mke2fs
  cpio:cpio
  zstd:zstd
  postgresql:/usr/lib/postgresql
  nftables:nft
  iproute2:ip
  procps:sysctl
  mmdebstrap:mmdebstrap
  gcc:cc
  libc6-dev:/usr/lib/x86_64-linux-gnu/libc.a
)
missing=()
for entry in "${PACKAGES[@]}"; do
  pkg=${entry%%:*} probe=${entry#*:}
  if [[ $probe == /* ]]; then [[ -e $probe ]] || missing+=("$pkg")
  else command -v "$probe" >/dev/null 2>&1 || [[ -x /usr/sbin/$probe ]] || missing+=("$pkg"); fi
done
compgen -G '/boot/vmlinuz-*' >/dev/null || missing+=(linux-image-amd64)
[[ -e /usr/share/doc/libvirt-daemon-driver-qemu || -e /usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so ]] || missing+=(libvirt-daemon-driver-qemu)

if ((${#missing[@]})); then
  [[ $(id -u) == 0 ]] || die "missing Debian packages (${missing[*]}) and not root: run 'sudo apt-get install ${missing[*]}'"
  command -v apt-get >/dev/null || die "missing packages (${missing[*]}) and no apt-get: install them with your package manager"
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Stale package lists are the usual cause of 404s on a fresh machine.
  apt-get update -q >/dev/null || die "apt-get update failed (is a Debian mirror reachable?)"
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/forkd-apt.log 2>&1 \
    || die "apt-get install ${missing[*]} failed; see /tmp/forkd-apt.log"
fi

# --- 2. libvirt daemons (no systemd here: start them ourselves) ---------------
libvirt_up() { virsh -c qemu:///system version >/dev/null 2>&1; }
if ! libvirt_up; then
  pgrep -x virtlogd >/dev/null || { say "starting virtlogd"; virtlogd -d || die "virtlogd did not start"; }
  pgrep -x libvirtd >/dev/null || { say "starting libvirtd"; libvirtd -d || die "libvirtd did not start"; }
  for _ in $(seq 1 50); do libvirt_up && break; sleep 0.2; done
  libvirt_up || die "libvirtd is running but qemu:///system does not answer (see /var/log/libvirt/libvirtd.log)"
fi
pgrep -x virtlogd >/dev/null || { say "starting virtlogd"; virtlogd -d || die "virtlogd did not start"; }

# --- 3. npm dependencies and the build -----------------------------------------
# `npm ci` from the lock, only when node_modules is missing or from another lock.
bash ops/npm-deps.sh || exit 1
if [[ -z ${FORKD_SKIP_BUILD:-} ]]; then
  say "building"
  npm run --silent build || die "the build failed"
fi

# --- 4. guest image and host check (boots a tiny guest once, then cached) -----
# Both are content-addressed: a second run finds them and returns at once.
say "guest image"
node bin/forkd.js image build 2>&1 | sed 's/^/  /' || die "building the guest image failed (see above)"
if [[ -z ${FORKD_SKIP_HOST_CHECK:-} ]]; then
  node bin/forkd.js host check || die "the host cannot run a forkd guest (see the message above)"
fi
say "ready"
