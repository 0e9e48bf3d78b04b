#!/usr/bin/env bash
# Prepares this machine for Faultline: npm packages, the build, and the Debian packages the harness needs.
# Safe to run again; each step is skipped when already done. Used by `npm start`, `npm test` and .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi

echo "setup: building"
npx tsc -p tsconfig.json

# Debian packages: iptables (partitions), libfaketime (clock skew), iproute2 (network namespaces).
need=()
command -v iptables >/dev/null 2>&1 || need+=(iptables)
[ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 ] || need+=(libfaketime)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v ps >/dev/null 2>&1 || need+=(procps)
# The local backend mounts a size-limited tmpfs per node (mount) and the disk nemesis uses coreutils' dd/od/truncate.
command -v mount >/dev/null 2>&1 || need+=(mount)
command -v truncate >/dev/null 2>&1 || need+=(coreutils)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian packages: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "setup: missing ${need[*]}; install them as root (apt-get install ${need[*]}) to run fault-injection tests" >&2
  fi
fi
