# Shared settings of the single-node cluster (sourced by up.sh, down.sh, images.sh).
#
# Addressing follows the network rule: nothing listens on or talks to the VM's
# own interface address. The node's address lives on a port-less bridge device
# that up.sh creates (and down.sh removes); Pods live on a bridge of their own.

CLUSTER_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CLUSTER_DIR="${CLUSTER_DIR:-$CLUSTER_REPO_ROOT/bin/cluster}"   # PKI, configs, logs, pids, etcd data
CLUSTER_KUBECONFIG="$CLUSTER_DIR/kubeconfig"

NODE_NAME="modelarts-node"
NODE_DEVICE="modelarts0"          # port-less bridge holding the node address
NODE_IP="10.211.0.1"              # API server, kubelet and NodePorts bind here
POD_BRIDGE="modelarts-br0"
POD_CIDR="10.212.0.0/24"
SERVICE_CIDR="10.213.0.0/24"
KUBERNETES_SERVICE_IP="10.213.0.1" # first address of SERVICE_CIDR
APISERVER_PORT=6443
ETCD_CLIENT_URL="http://127.0.0.1:23791"
ETCD_PEER_URL="http://127.0.0.1:23792"

CONTAINERD_SOCKET="/run/containerd/containerd.sock"
CONTAINERD_ROOT="/var/lib/containerd"
CONTAINERD_STATE="/run/containerd"
KUBELET_ROOT="/var/lib/kubelet"
# The kubelet refreshes mounted Secret volumes on every pod sync; the default is
# 1m, shortened here so the rotation check of make test-cluster is quick.
KUBELET_SYNC_FREQUENCY="${KUBELET_SYNC_FREQUENCY:-20s}"

# The image the pause container runs (built by images.sh from pause.c).
PAUSE_IMAGE="registry.k8s.io/pause:3.10"

ctr_k8s() { ctr --address "$CONTAINERD_SOCKET" --namespace k8s.io "$@"; }
