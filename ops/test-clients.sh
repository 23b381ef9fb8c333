#!/usr/bin/env bash
# The real clients the test suite drives forkd's Docker Engine API with
# (docs/docker.md): the docker CLI, Debian's docker-compose (python, 1.29) and
# docker-py; and Debian's docker-registry (distribution 2.8) with htpasswd
# (apache2-utils) for the registry client's tests (test/registry.test.ts), which
# start the registry themselves on loopback. `npm test` runs this after
# bootstrap.sh; `npm start` never needs it.
# Only clients are installed: Debian's docker.io brings a daemon too, and it is
# never started (policy-rc.d refuses every service start during the install);
# so is docker-registry's system service.
set -euo pipefail
say() { printf '\033[1mforkd test setup:\033[0m %s\n' "$*"; }
die() { printf '\033[1;31mforkd test setup failed:\033[0m %s\n' "$*" >&2; exit 1; }

missing=()
command -v docker >/dev/null 2>&1 || missing+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
python3 -c 'import docker' >/dev/null 2>&1 || missing+=(python3-docker)
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
# The desktop test drives Debian's Chromium with playwright (executablePath; playwright never downloads a browser).
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
((${#missing[@]})) || exit 0

[[ $(id -u) == 0 ]] || die "missing test clients (${missing[*]}) and not root: run 'sudo apt-get install --no-install-recommends ${missing[*]}'"
command -v apt-get >/dev/null || die "missing test clients (${missing[*]}) and no apt-get"
say "installing test clients: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
policy=/usr/sbin/policy-rc.d
restore_policy() { if [[ -e $policy.forkd-saved ]]; then mv -f "$policy.forkd-saved" "$policy"; else rm -f "$policy"; fi; }
[[ -e $policy ]] && cp -p "$policy" "$policy.forkd-saved"
printf '#!/bin/sh\n# forkd test setup: install clients, start no daemon\nexit 101\n' >"$policy"
chmod 755 "$policy"
trap restore_policy EXIT
apt-get update -q >/dev/null || die "apt-get update failed (is a Debian mirror reachable?)"
apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/forkd-apt-test-clients.log 2>&1 \
  || die "apt-get install ${missing[*]} failed; see /tmp/forkd-apt-test-clients.log"
command -v docker >/dev/null && command -v docker-compose >/dev/null || die "the docker and docker-compose clients are still missing after the install"
command -v docker-registry >/dev/null && command -v htpasswd >/dev/null || die "docker-registry or htpasswd is still missing after the install"
command -v chromium >/dev/null || die "chromium is still missing after the install"
