#!/usr/bin/env bash
# Provisions everything a single-node cluster needs on a Debian machine that
# has only Go, and prints the directory holding the node's binaries.
#
#   - Debian packages: containerd, runc, CNI plugins, iptables, conntrack,
#     busybox-static (for the consumer image), openssl (for the cluster's PKI);
#   - etcd, kube-apiserver, kubectl: from hack/setup-envtest.sh (shared with the tests);
#   - kubelet, kube-controller-manager, kube-scheduler, kube-proxy: built from
#     the Go module proxy (hack/lib/build-k8s.sh), same release as kube-apiserver;
#   - the pause binary, compiled with gcc -static from the k8s.io/kubernetes module.
#
# Builds are cached outside the clone in
# ~/.local/share/modelarts-operator/cluster/<version>-linux-<arch>, so a fresh
# clone reuses them; every first-time step prints how long it took.
set -euo pipefail

K8S_VERSION="${CLUSTER_K8S_VERSION:-${ENVTEST_K8S_VERSION:-1.37.2}}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DATA_HOME="${XDG_DATA_HOME:-$HOME/.local/share}"
NODE_BIN="${CLUSTER_CACHE_DIR:-$DATA_HOME/modelarts-operator/cluster}/${K8S_VERSION}-$(go env GOOS)-$(go env GOARCH)"

log() { echo "provision: $*" >&2; }
timed() { # timed <what> <command...>: runs it and says how long it took
  local what="$1" start=$SECONDS; shift
  "$@"
  log "$what took $((SECONDS - start))s"
}

packages=(containerd runc containernetworking-plugins iptables conntrack busybox-static openssl)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  install_packages() {
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    # The containerd package would start a system daemon where systemd runs; the cluster runs its own.
    systemctl disable --now containerd >/dev/null 2>&1 || true
  }
  timed "installing packages" install_packages
fi

envtest_assets="$(ENVTEST_K8S_VERSION="$K8S_VERSION" "$REPO_ROOT/hack/setup-envtest.sh")"

node_cmds=(kubelet kube-controller-manager kube-scheduler kube-proxy)
need=()
for c in "${node_cmds[@]}"; do [ -x "$NODE_BIN/$c" ] || need+=("$c"); done
if [ "${#need[@]}" -gt 0 ]; then
  log "building ${need[*]} v${K8S_VERSION} from the Go module proxy (first build: about 6 minutes on 2 cores)"
  timed "building ${need[*]}" "$REPO_ROOT/hack/lib/build-k8s.sh" "$K8S_VERSION" "$NODE_BIN" "${need[@]}" >&2
fi

if [ ! -x "$NODE_BIN/pause" ]; then
  log "compiling the pause binary (gcc -static) from k8s.io/kubernetes@v${K8S_VERSION}"
  src="$(cd "$REPO_ROOT" && go mod download -json "k8s.io/kubernetes@v${K8S_VERSION}" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')/build/pause/linux/pause.c"
  timed "compiling pause" gcc -Os -static -DVERSION="v${K8S_VERSION}" -o "$NODE_BIN/pause" "$src"
fi

for c in kube-apiserver etcd kubectl; do ln -sfn "$envtest_assets/$c" "$NODE_BIN/$c"; done
echo "$NODE_BIN"
