#!/usr/bin/env bash
# Builds the k8s target's real components from Go modules, by version, into a cache: etcd 3.6 and kube-apiserver.
# No binary is downloaded: each is compiled from its module source fetched through the Go module proxy.
# Usage: scripts/build-k8s.sh [--print-dir]   (FAULTLINE_K8S_CACHE overrides ~/.cache/faultline/k8s)
# A build is skipped when its binary is already in the cache; build times go to <cache>/build-times.log.
set -euo pipefail

# The pinned versions. kube-apiserver 1.34 supports etcd 3.5/3.6; the versions are the cache keys.
KUBERNETES_VERSION=${FAULTLINE_KUBERNETES_VERSION:-v1.34.4}
ETCD_VERSION=${FAULTLINE_ETCD_VERSION:-v3.6.16}
cache=${FAULTLINE_K8S_CACHE:-$HOME/.cache/faultline/k8s}
kube_dir="$cache/kubernetes-$KUBERNETES_VERSION/bin"
etcd_dir="$cache/etcd-$ETCD_VERSION/bin"

if [ "${1:-}" = --print-dir ]; then
  echo "$kube_dir"
  echo "$etcd_dir"
  exit 0
fi

go=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
if [ ! -x "$go" ]; then
  echo "build-k8s: no Go toolchain (looked for go on PATH and /usr/local/go/bin/go); install Go 1.24 or newer" >&2
  exit 2
fi
# The machine's own Go; both pinned releases need Go 1.24, so no other toolchain is fetched.
export GOTOOLCHAIN=local
# Every core (set-up runs before the tests, alone), at low priority; GOFLAGS=-p=1 limits it on a shared machine.
export GOFLAGS="${GOFLAGS:-}"
export CGO_ENABLED=0
mkdir -p "$cache"

# etcd: a throwaway main module whose main calls etcdmain.Main, as etcd's own main.go does.
build_etcd() {
  local work="$cache/work/etcd-$ETCD_VERSION"
  rm -rf "$work" && mkdir -p "$work" "$etcd_dir"
  cat >"$work/main.go" <<'EOF'
// The etcd server's own entry point, as go.etcd.io/etcd/v3's main.go calls it.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF
  (
    cd "$work"
    "$go" mod init faultline.local/etcd-build >/dev/null 2>&1
    "$go" get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null
    "$go" mod tidy >/dev/null
    nice -n 10 "$go" build -trimpath -ldflags=-s -o "$etcd_dir/etcd.partial" .
  )
  mv "$etcd_dir/etcd.partial" "$etcd_dir/etcd"
}

# kube-apiserver: a throwaway module requiring k8s.io/kubernetes, building its cmd/kube-apiserver.
build_kubernetes() {
  local work="$cache/work/kubernetes-$KUBERNETES_VERSION"
  rm -rf "$work" && mkdir -p "$work" "$kube_dir"
  (
    cd "$work"
    "$go" mod init faultline.local/kubernetes-build >/dev/null 2>&1
    # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with ./staging paths, which
    # a dependent module cannot use: replace each with the published module of the same release.
    local modfile staging_version
    modfile=$("$go" mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    staging_version="v0${KUBERNETES_VERSION#v1}"
    local staging
    staging=$(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$modfile")
    if [ -z "$staging" ]; then
      echo "build-k8s: found no staging replace lines in $modfile" >&2
      exit 1
    fi
    local module
    for module in $staging; do
      "$go" mod edit -replace "$module=$module@$staging_version"
    done
    "$go" mod edit -require "k8s.io/kubernetes@$KUBERNETES_VERSION"
    cat >tools.go <<'EOF'
//go:build tools

// Keeps the command packages in the module graph for `go mod tidy`.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
EOF
    "$go" mod tidy >/dev/null
    # The version kubernetes' own build stamps in (hack/lib/version.sh); without it /version says v0.0.0-master.
    local minor=${KUBERNETES_VERSION#v1.}
    minor=${minor%%.*}
    local stamp="-X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/component-base/version.gitMajor=1"
    stamp="$stamp -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
    stamp="$stamp -X k8s.io/client-go/pkg/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1"
    stamp="$stamp -X k8s.io/client-go/pkg/version.gitMinor=$minor"
    nice -n 10 "$go" build -trimpath -ldflags="-s $stamp" -o "$kube_dir/kube-apiserver.partial" k8s.io/kubernetes/cmd/kube-apiserver
  )
  mv "$kube_dir/kube-apiserver.partial" "$kube_dir/kube-apiserver"
}

# Runs build function $2 unless binary $1 exists; records the seconds it took.
timed() {
  local binary=$1 step=$2
  if [ -x "$binary" ]; then
    echo "build-k8s: $(basename "$binary") cached at $binary"
    return 0
  fi
  echo "build-k8s: building $(basename "$binary") (this takes minutes on a small machine)"
  local started=$SECONDS
  "$step"
  local took=$((SECONDS - started))
  echo "build-k8s: built $binary in ${took}s"
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $(basename "$binary") $(dirname "$(dirname "$binary")" | xargs basename) ${took}s $(nproc) cores" >>"$cache/build-times.log"
}

timed "$etcd_dir/etcd" build_etcd
timed "$kube_dir/kube-apiserver" build_kubernetes
"$etcd_dir/etcd" --version | head -1
"$kube_dir/kube-apiserver" --version
