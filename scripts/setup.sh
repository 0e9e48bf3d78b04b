#!/usr/bin/env bash
# Prepares this machine for Faultline: npm packages, the build, and the Debian packages the harness needs.
# `setup.sh` is what `npm start` needs (iptables, libfaketime, iproute2 for the local backend);
# `setup.sh --test` adds what the whole test suite needs: Chromium (report tests), OpenSSH and sudo (ssh
# backend tests), etcd, the Docker engine and the images. Safe to run again; each step is skipped when done.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-run}

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages"
  # `npm install` with the committed lock, not `npm ci`: this npm writes only this platform's optional
  # packages into the lock (rollup's), and `npm ci` then refuses the lock as out of sync.
  npm install --no-audit --no-fund --loglevel=error
fi

echo "setup: building"
npx tsc -p tsconfig.json

need=()
# Local backend and nemeses: network namespaces (iproute2), partitions (iptables), clock skew (libfaketime),
# process faults (procps), per-node tmpfs volumes (mount), disk faults (coreutils' dd/truncate).
command -v iptables >/dev/null 2>&1 || need+=(iptables)
[ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 ] || need+=(libfaketime)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v ps >/dev/null 2>&1 || need+=(procps)
command -v mount >/dev/null 2>&1 || need+=(mount)
command -v truncate >/dev/null 2>&1 || need+=(coreutils)
if [ "$mode" = --test ]; then
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || need+=(openssh-server)
  command -v sudo >/dev/null 2>&1 || need+=(sudo)
  command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
  # The postgres target's tests: Debian's server binaries (run as the postgres user the package creates) and setpriv.
  ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
  command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian packages: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    timeout 600 apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null
    timeout 1200 apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "setup: missing ${need[*]}; install them as root (apt-get install ${need[*]}) to run fault-injection tests" >&2
  fi
fi

if [ "$mode" = --test ]; then
  # The Docker engine (Debian's docker.io, dockerd started without systemd), etcd, debootstrap; then the
  # images, built without a registry and cached by content (a second build is instant).
  if bash scripts/setup-docker.sh; then
    echo "setup: building container images"
    node dist/src/cli/main.js images build
  else
    echo "setup: no Docker engine; the docker backend's tests will say so and skip" >&2
  fi
  # The k8s target's etcd 3.6 and kube-apiserver, compiled from Go modules into a cache (instant when cached).
  bash scripts/build-k8s.sh || echo "setup: the k8s build failed; the k8s target's tests will fail" >&2
fi
