#!/usr/bin/env bash
# make cluster: a real single-node Kubernetes on this machine.
#
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, containerd
# with runc, the kubelet with bridge CNI, and kube-proxy (iptables mode) so
# Pods reach the `kubernetes` Service. It must run as root (the kubelet and
# containerd manage cgroups, mounts and network namespaces).
#
# Everything it starts is recorded by PID in bin/cluster/pids and stopped by
# hack/cluster/down.sh (make cluster-down), which also removes what the
# kubelet and containerd leave behind. The admin kubeconfig is
# bin/cluster/kubeconfig. Traffic stays on loopback, on the node address
# (a dummy device this script creates) and inside Pod network namespaces.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

TOTAL_STEPS=9
step=0
started=$SECONDS
say() { step=$((step + 1)); echo "[cluster] $step/$TOTAL_STEPS $* ($((SECONDS - started))s)"; }
fail() { echo "[cluster] FAILED: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "run as root: the kubelet and containerd manage cgroups, mounts and network namespaces"

is_running() { [ -f "$CLUSTER_DIR/pids/$1" ] && kill -0 "$(cat "$CLUSTER_DIR/pids/$1")" 2>/dev/null; }
if is_running kube-apiserver && is_running kubelet; then
  echo "[cluster] already running; kubeconfig: $CLUSTER_KUBECONFIG (make cluster-down stops it)"
  exit 0
fi
# Leftovers of a cluster that died or was half started would get in the way.
if [ -d "$CLUSTER_DIR/pids" ]; then
  "$CLUSTER_REPO_ROOT/hack/cluster/down.sh" >/dev/null
fi

# Another clone's cluster holds the node address. (Probe only a local address:
# without the device, the address would route out of the machine.)
if ip -4 addr show dev "$NODE_DEVICE" 2>/dev/null | grep -q "inet $NODE_IP/" &&
  curl -sk --max-time 2 -o /dev/null "https://$NODE_IP:$APISERVER_PORT/"; then
  fail "an API server already answers on $NODE_IP:$APISERVER_PORT (another clone's cluster?); run its make cluster-down first"
fi

say "provisioning binaries and packages (cached after the first run)"
NODE_BIN="$("$CLUSTER_REPO_ROOT/hack/cluster/provision.sh")"
export PATH="$NODE_BIN:$PATH"

mkdir -p "$CLUSTER_DIR"/{pki,pids,logs,cni/net.d}
PKI="$CLUSTER_DIR/pki"

# start <name> <command...>: runs it in the background, logging to logs/<name>.log.
start() {
  local name="$1"; shift
  setsid "$@" >"$CLUSTER_DIR/logs/$name.log" 2>&1 < /dev/null &
  echo $! >"$CLUSTER_DIR/pids/$name"
}
# wait_for <what> <seconds> <command...>: polls until the command succeeds.
wait_for() {
  local what="$1" timeout="$2"; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || fail "$what not ready after ${timeout}s; logs in $CLUSTER_DIR/logs"
    sleep 1
  done
}

say "node network: $NODE_DEVICE ($NODE_IP), forwarding and bridge netfilter"
# A port-less bridge serves as the dummy device (this VM's kernel has no dummy driver).
ip link show "$NODE_DEVICE" >/dev/null 2>&1 || ip link add "$NODE_DEVICE" type bridge
ip addr replace "$NODE_IP/32" dev "$NODE_DEVICE"
ip link set "$NODE_DEVICE" up
# Remember the values we change so down.sh can put them back.
: >"$CLUSTER_DIR/sysctl.saved"
for key in net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables; do
  echo "$key=$(sysctl -n "$key")" >>"$CLUSTER_DIR/sysctl.saved"
  sysctl -qw "$key=1"
done

say "PKI: cluster CA, serving and client certificates, ServiceAccount signing key"
openssl_quiet() { openssl "$@" 2>/dev/null; }
openssl_quiet req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -days 3650 \
  -subj "/CN=modelarts-cluster-ca" -keyout "$PKI/ca.key" -out "$PKI/ca.crt"
# cert <name> <subject> <extendedKeyUsage> [subjectAltName]
cert() {
  local name="$1" subject="$2" usage="$3" san="${4:-}"
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$usage"
    [ -z "$san" ] || echo "subjectAltName=$san"
  } >"$PKI/$name.ext"
  openssl_quiet req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -subj "$subject" \
    -keyout "$PKI/$name.key" -out "$PKI/$name.csr"
  openssl_quiet x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 365 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt"
}
cert apiserver "/CN=kube-apiserver" serverAuth \
  "IP:$NODE_IP,IP:$KUBERNETES_SERVICE_IP,IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
cert admin "/O=system:masters/CN=cluster-admin" clientAuth
cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" clientAuth
cert kubelet-serving "/CN=$NODE_NAME" serverAuth "IP:$NODE_IP,DNS:$NODE_NAME"
cert controller-manager "/CN=system:kube-controller-manager" clientAuth
cert scheduler "/CN=system:kube-scheduler" clientAuth
cert kube-proxy "/O=system:node-proxier/CN=system:kube-proxy" clientAuth
openssl_quiet genrsa -out "$PKI/sa.key" 2048
openssl_quiet rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub"

# kubeconfig <file> <cert name>
kubeconfig() {
  local file="$1" name="$2"
  kubectl config --kubeconfig "$file" set-cluster modelarts --server "https://$NODE_IP:$APISERVER_PORT" \
    --certificate-authority "$PKI/ca.crt" --embed-certs >/dev/null
  kubectl config --kubeconfig "$file" set-credentials "$name" --client-certificate "$PKI/$name.crt" \
    --client-key "$PKI/$name.key" --embed-certs >/dev/null
  kubectl config --kubeconfig "$file" set-context modelarts --cluster modelarts --user "$name" >/dev/null
  kubectl config --kubeconfig "$file" use-context modelarts >/dev/null
}
kubeconfig "$CLUSTER_KUBECONFIG" admin
for c in kubelet controller-manager scheduler kube-proxy; do kubeconfig "$CLUSTER_DIR/$c.kubeconfig" "$c"; done
chmod 600 "$CLUSTER_DIR"/*.kubeconfig "$CLUSTER_KUBECONFIG" "$PKI"/*.key
k() { kubectl --kubeconfig "$CLUSTER_KUBECONFIG" "$@"; }

say "etcd and kube-apiserver on https://$NODE_IP:$APISERVER_PORT"
start etcd etcd --name modelarts --data-dir "$CLUSTER_DIR/etcd" \
  --listen-client-urls "$ETCD_CLIENT_URL" --advertise-client-urls "$ETCD_CLIENT_URL" \
  --listen-peer-urls "$ETCD_PEER_URL" --initial-advertise-peer-urls "$ETCD_PEER_URL" \
  --initial-cluster "modelarts=$ETCD_PEER_URL" --unsafe-no-fsync
start kube-apiserver kube-apiserver \
  --etcd-servers "$ETCD_CLIENT_URL" \
  --bind-address "$NODE_IP" --advertise-address "$NODE_IP" --secure-port "$APISERVER_PORT" \
  --service-cluster-ip-range "$SERVICE_CIDR" \
  --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
  --client-ca-file "$PKI/ca.crt" \
  --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
  --kubelet-preferred-address-types InternalIP \
  --service-account-issuer "https://kubernetes.default.svc.cluster.local" \
  --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
  --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
  --anonymous-auth=false
wait_for "kube-apiserver" 90 k get --raw /readyz

say "kube-controller-manager and kube-scheduler"
start kube-controller-manager kube-controller-manager \
  --kubeconfig "$CLUSTER_DIR/controller-manager.kubeconfig" \
  --authentication-kubeconfig "$CLUSTER_DIR/controller-manager.kubeconfig" \
  --authorization-kubeconfig "$CLUSTER_DIR/controller-manager.kubeconfig" \
  --bind-address 127.0.0.1 --leader-elect=false --use-service-account-credentials \
  --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
  --service-cluster-ip-range "$SERVICE_CIDR" --cluster-cidr "$POD_CIDR"
start kube-scheduler kube-scheduler \
  --kubeconfig "$CLUSTER_DIR/scheduler.kubeconfig" \
  --authentication-kubeconfig "$CLUSTER_DIR/scheduler.kubeconfig" \
  --authorization-kubeconfig "$CLUSTER_DIR/scheduler.kubeconfig" \
  --bind-address 127.0.0.1 --leader-elect=false

say "containerd (runc) with the pause image"
cat >"$CLUSTER_DIR/containerd.toml" <<TOML
version = 2
root = "$CONTAINERD_ROOT"
state = "$CONTAINERD_STATE"
[grpc]
  address = "$CONTAINERD_SOCKET"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # This VM withholds CAP_SYS_RESOURCE: runc cannot set negative OOM scores.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$CLUSTER_DIR/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      SystemdCgroup = false
TOML
if [ -S "$CONTAINERD_SOCKET" ] && ctr --address "$CONTAINERD_SOCKET" version >/dev/null 2>&1; then
  fail "another containerd already serves $CONTAINERD_SOCKET; stop it first"
fi
start containerd containerd --config "$CLUSTER_DIR/containerd.toml"
wait_for "containerd" 30 ctr --address "$CONTAINERD_SOCKET" version
# NODE_BIN passed on: provision.sh has already run.
NODE_BIN="$NODE_BIN" "$CLUSTER_REPO_ROOT/hack/cluster/images.sh" pause

say "kubelet with bridge CNI ($POD_BRIDGE, $POD_CIDR)"
cat >"$CLUSTER_DIR/cni/net.d/10-modelarts.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "modelarts",
  "plugins": [{
    "type": "bridge", "bridge": "$POD_BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
    "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}]}
  }]
}
JSON
cat >"$CLUSTER_DIR/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
containerRuntimeEndpoint: unix://$CONTAINERD_SOCKET
# PID 1 is not systemd, and the VM's cgroups are v1.
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
syncFrequency: $KUBELET_SYNC_FREQUENCY
serializeImagePulls: false
# Images are imported, not pulled: never garbage-collect them for disk space.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
YAML
start kubelet kubelet --config "$CLUSTER_DIR/kubelet.yaml" --kubeconfig "$CLUSTER_DIR/kubelet.kubeconfig" \
  --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" --root-dir "$KUBELET_ROOT"
node_ready() { [ "$(k get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]; }
wait_for "node $NODE_NAME" 120 node_ready

say "kube-proxy (iptables) for Services"
cat >"$CLUSTER_DIR/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $CLUSTER_DIR/kube-proxy.kubeconfig}
mode: iptables
clusterCIDR: $POD_CIDR
hostnameOverride: $NODE_NAME
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# NodePorts only on the node address, never on the VM's own interfaces.
nodePortAddresses: ["$NODE_IP/32"]
conntrack: {maxPerCore: 0}
YAML
start kube-proxy kube-proxy --config "$CLUSTER_DIR/kube-proxy.yaml"
wait_for "kube-proxy" 60 curl -sf http://127.0.0.1:10256/healthz

say "waiting for the default ServiceAccount and kube-root-ca.crt"
wait_for "default ServiceAccount" 60 k get serviceaccount default -n default
wait_for "kube-root-ca.crt" 60 k get configmap kube-root-ca.crt -n default

echo "[cluster] ready in $((SECONDS - started))s: kubectl --kubeconfig $CLUSTER_KUBECONFIG get nodes"
