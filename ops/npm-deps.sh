#!/usr/bin/env bash
# Installs the npm dependencies exactly as package-lock.json says (`npm ci`),
# but only when node_modules is missing or was installed from another lock:
# `npm ci` deletes node_modules first, and `npm start`/`npm test` run this on
# every call. The lock's sha256 is recorded in node_modules/.forkd-lock-sha256
# after each install and compared here. bootstrap.sh runs it; it runs alone too
# (from the checkout root): `bash ops/npm-deps.sh`.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
say() { printf '\033[1mforkd setup:\033[0m %s\n' "$*"; }
die() { printf '\033[1;31mforkd setup failed:\033[0m %s\n' "$*" >&2; exit 1; }

# A lock out of step with package.json (or missing another platform's optional
# entries) would make `npm ci` fail later with a less helpful message.
node ops/check-lock.mjs || die "package-lock.json does not match package.json (see above)"

STAMP=node_modules/.forkd-lock-sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
have=$(cat "$STAMP" 2>/dev/null || true)
if [[ -d node_modules/.bin && $have == "$want" ]]; then exit 0; fi
if [[ -L node_modules ]]; then
  # Shared with another checkout (a git worktree): `npm ci` here would empty the other one's too.
  say "node_modules is a link to $(readlink node_modules), installed from another lock: not reinstalling it here; run 'bash ops/npm-deps.sh' in the checkout that owns it"
  exit 0
fi
say "installing npm dependencies (npm ci: node_modules ${have:+was installed from another lock}${have:-has no record of its lock})"
npm ci --no-audit --no-fund --loglevel=error || die "npm ci failed (is the npm registry reachable?)"
echo "$want" >"$STAMP"
