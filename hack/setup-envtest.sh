#!/usr/bin/env bash
# Provisions the envtest control plane (kube-apiserver, etcd, kubectl) for tests and the demo.
#
# Prints the directory that holds the binaries, suitable for KUBEBUILDER_ASSETS.
# Binaries are cached outside the repository, where setup-envtest keeps them
# (~/.local/share/kubebuilder-envtest/k8s/<version>-<os>-<arch>), so a fresh clone
# reuses them; bin/k8s links to that directory.
#
# Order of attempts:
#   1. the cache;
#   2. setup-envtest's download (needs access to the envtest release bucket);
#   3. a local build: etcd from Debian's etcd-server package, kube-apiserver and kubectl
#      compiled from the Go module proxy (first build takes about 10 minutes).
set -euo pipefail

K8S_VERSION="${ENVTEST_K8S_VERSION:-1.37.2}"
SETUP_ENVTEST_VERSION="${SETUP_ENVTEST_VERSION:-v0.25.1}"
GOOS="$(go env GOOS)"
GOARCH="$(go env GOARCH)"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA_HOME="${XDG_DATA_HOME:-$HOME/.local/share}"
CACHE_ROOT="${ENVTEST_CACHE_DIR:-$DATA_HOME/kubebuilder-envtest}"
ASSETS="$CACHE_ROOT/k8s/${K8S_VERSION}-${GOOS}-${GOARCH}"

log() { echo "setup-envtest: $*" >&2; }

complete() { [ -x "$1/kube-apiserver" ] && [ -x "$1/etcd" ] && [ -x "$1/kubectl" ]; }

link_into_bin() {
  mkdir -p "$REPO_ROOT/bin"
  ln -sfn "$ASSETS" "$REPO_ROOT/bin/k8s"
  echo "$ASSETS"
}

if complete "$ASSETS"; then
  link_into_bin
  exit 0
fi

# 2. setup-envtest's download, given a short time limit: offline it fails fast.
if [ -z "${ENVTEST_SKIP_DOWNLOAD:-}" ]; then
  log "trying setup-envtest download of ${K8S_VERSION}"
  GOBIN="$REPO_ROOT/bin" go install "sigs.k8s.io/controller-runtime/tools/setup-envtest@${SETUP_ENVTEST_VERSION}" >&2 || true
  if [ -x "$REPO_ROOT/bin/setup-envtest" ]; then
    if dir=$(timeout 120 "$REPO_ROOT/bin/setup-envtest" use "$K8S_VERSION" --bin-dir "$CACHE_ROOT" -p path 2>/dev/null) && complete "$dir"; then
      ASSETS="$dir"
      link_into_bin
      exit 0
    fi
  fi
  log "download not available; building locally"
fi

mkdir -p "$ASSETS"

# 3a. etcd from Debian's package.
if [ ! -x "$ASSETS/etcd" ]; then
  etcd_bin="$(command -v etcd || true)"
  if [ -z "$etcd_bin" ]; then
    log "installing etcd from Debian's etcd-server package"
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq etcd-server >&2
    # The package starts a system etcd on the default ports; tests use their own.
    $sudo_cmd systemctl disable --now etcd >/dev/null 2>&1 || $sudo_cmd service etcd stop >/dev/null 2>&1 || true
    etcd_bin="$(command -v etcd || echo /usr/bin/etcd)"
  fi
  cp "$etcd_bin" "$ASSETS/etcd"
fi

# 3b. kube-apiserver and kubectl built from the Go module proxy.
if [ ! -x "$ASSETS/kube-apiserver" ] || [ ! -x "$ASSETS/kubectl" ]; then
  log "building kube-apiserver and kubectl v${K8S_VERSION} from the Go module proxy (first build takes about 10 minutes on 2 cores)"
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  minor="${K8S_VERSION#*.}"
  staging_version="v0.${minor}"
  (
    cd "$work"
    go mod init envtest-build >/dev/null 2>&1
    go mod edit -require="k8s.io/kubernetes@v${K8S_VERSION}"
    gomod="$(go mod download -json "k8s.io/kubernetes@v${K8S_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
    # k8s.io/kubernetes replaces its staging modules with local paths; point them at released versions.
    grep -oE '^\s*k8s.io/[a-z0-9-]+ => \./staging' "$gomod" | awk '{print $1}' | while read -r m; do
      go mod edit -replace="${m}=${m}@${staging_version}"
    done
    cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubectl/pkg/cmd"
)
GO
    GOFLAGS=-mod=mod go mod tidy -e >&2 2>/dev/null || true
    ldflags="-s -w -X k8s.io/component-base/version.gitVersion=v${K8S_VERSION} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor%%.*}"
    CGO_ENABLED=0 GOFLAGS=-mod=mod go build -ldflags "$ldflags" -o "$ASSETS/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
    log "kube-apiserver built; building kubectl"
    CGO_ENABLED=0 GOFLAGS=-mod=mod go build -ldflags "$ldflags" -o "$ASSETS/kubectl" k8s.io/kubernetes/cmd/kubectl
  ) >&2
fi

complete "$ASSETS" || { log "incomplete assets in $ASSETS"; exit 1; }
link_into_bin
