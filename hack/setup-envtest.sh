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
  start=$SECONDS
  "$REPO_ROOT/hack/lib/build-k8s.sh" "$K8S_VERSION" "$ASSETS" kube-apiserver kubectl >&2
  log "kube-apiserver and kubectl built in $((SECONDS - start))s"
fi

complete "$ASSETS" || { log "incomplete assets in $ASSETS"; exit 1; }
link_into_bin
