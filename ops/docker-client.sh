#!/usr/bin/env bash
# Makes sure a docker CLI is on the PATH for forkd's Docker Engine API tests.
# Where none is, installs Debian's docker.io for its client only: the daemon
# is kept from starting (policy-rc.d refuses every service start during the
# install) and forkd never starts it; tests point the client at forkd's socket.
set -euo pipefail
command -v docker >/dev/null 2>&1 && exit 0
die() { printf 'forkd docker-client: %s\n' "$*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "no docker CLI and not root: run 'sudo apt-get install --no-install-recommends docker.io' (forkd uses only its client)"
command -v apt-get >/dev/null || die "no docker CLI and no apt-get: install a docker client (any 20.10+)"
export DEBIAN_FRONTEND=noninteractive
policy=/usr/sbin/policy-rc.d
had_policy=0
[[ -e $policy ]] && had_policy=1
if ((had_policy == 0)); then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  trap 'rm -f "$policy"' EXIT
fi
apt-get update -q >/dev/null || die "apt-get update failed"
apt-get install -y -q --no-install-recommends docker.io >/tmp/forkd-docker-client.log 2>&1 || die "apt-get install docker.io failed; see /tmp/forkd-docker-client.log"
command -v docker >/dev/null 2>&1 || die "docker.io installed but no docker on the PATH"
