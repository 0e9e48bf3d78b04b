#!/usr/bin/env bash
# Makes a Docker engine answer on this machine (installs Debian's docker.io and starts dockerd without
# systemd when root and none answers) and installs the host tools the image builder and etcd target need.
# Safe to run again; every wait is bounded. Used by .ci/run before the docker e2e tests.
set -euo pipefail

log() { echo "setup-docker: $*"; }
engine_answers() { timeout 10 docker info >/dev/null 2>&1; }
is_root() { [ "$(id -u)" = 0 ]; }

apt_updated=0
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if [ "$apt_updated" = 0 ]; then
    timeout 600 apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null
    apt_updated=1
  fi
  timeout 900 apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "$@" >/dev/null
}

# Host tools: debootstrap builds image root filesystems; etcd-server is the etcd target on the local
# backend; iptables and libfaketime are used inside network namespaces on the host.
need=()
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
[ -x /usr/bin/etcd ] || need+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || need+=(etcd-client)
command -v iptables >/dev/null 2>&1 || need+=(iptables)
[ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 ] || need+=(libfaketime)
if ! engine_answers && ! command -v dockerd >/dev/null 2>&1; then need+=(docker.io); fi
if [ ${#need[@]} -gt 0 ]; then
  if is_root && command -v apt-get >/dev/null 2>&1; then
    log "installing Debian packages: ${need[*]}"
    apt_install "${need[@]}"
  else
    log "missing ${need[*]}; as root run: apt-get install ${need[*]}" >&2
  fi
fi

if engine_answers; then
  log "engine answers: $(docker version --format '{{.Server.Version}}' 2>/dev/null || echo unknown)"
  exit 0
fi
if ! is_root; then
  log "no Docker engine answers and not root: start dockerd as root, or run this script as root" >&2
  exit 1
fi
if ! command -v dockerd >/dev/null 2>&1; then
  log "dockerd is not installed (apt-get install docker.io failed?)" >&2
  exit 1
fi

# The engine's own helpers (containerd, runc, docker-init) come with docker.io under /usr/bin and /usr/sbin.
# A stale pid file from a dead daemon stops a new one from starting.
if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
  rm -f /var/run/docker.pid
fi
log "starting dockerd in the background (log: /var/log/dockerd.log)"
setsid nohup dockerd >/var/log/dockerd.log 2>&1 </dev/null &

# Bounded wait: 120 tries of 0.5 s each.
for _ in $(seq 1 120); do
  if engine_answers; then
    log "engine answers: $(docker version --format '{{.Server.Version}}' 2>/dev/null || echo unknown)"
    exit 0
  fi
  sleep 0.5
done
log "dockerd did not answer within 60 s; last lines of /var/log/dockerd.log:" >&2
tail -n 20 /var/log/dockerd.log >&2 || true
exit 1
