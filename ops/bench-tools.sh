#!/usr/bin/env bash
# Tools only the benchmarks use (docs/benchmarks.md), installed when a bench
# that wants them starts, never by the product or the test suite:
# - runsc (gVisor, Debian's package): `bench run`'s reference row, the same
#   image's root filesystem run with `runsc run` beside `forkd run --rm`.
# Best effort: without root, apt-get or a mirror the bench runs without the row
# and says why.
set -uo pipefail
say() { printf '\033[1mforkd bench tools:\033[0m %s\n' "$*" >&2; }

command -v runsc >/dev/null 2>&1 && exit 0
[[ $(id -u) == 0 ]] || { say "runsc is not installed and this is not root: no runsc row (sudo apt-get install runsc)"; exit 0; }
command -v apt-get >/dev/null || { say "runsc is not installed and there is no apt-get: no runsc row"; exit 0; }
say "installing runsc (gVisor) for bench run's reference row"
export DEBIAN_FRONTEND=noninteractive
# Another apt (a setup script) may hold the lock for a while: wait for it rather than fail.
apt_get() { apt-get -o DPkg::Lock::Timeout=300 "$@"; }
if ! apt_get install -y -q --no-install-recommends runsc >/tmp/forkd-apt-bench-tools.log 2>&1; then
  apt_get update -q >/dev/null 2>&1
  apt_get install -y -q --no-install-recommends runsc >/tmp/forkd-apt-bench-tools.log 2>&1 \
    || { say "apt-get install runsc failed (see /tmp/forkd-apt-bench-tools.log): no runsc row"; exit 0; }
fi
command -v runsc >/dev/null || say "runsc still missing after the install: no runsc row"
exit 0
