#!/usr/bin/env bash
# make cluster-down: stops what hack/cluster/up.sh started (by PID) and removes
# what the kubelet and containerd leave behind: Pod containers, mounts under
# the kubelet's and containerd's directories, Pod network namespaces, the
# bridge and node devices, kube iptables chains, the kubepods and k8s.io
# cgroups, the sysctls it changed, and the cluster's etcd data.
# Imported images stay in containerd's root for the next `make cluster`.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

say() { echo "[cluster-down] $*"; }
[ "$(id -u)" -eq 0 ] || { echo "[cluster-down] run as root" >&2; exit 1; }

# stop <name>: TERM, then KILL after 10s, the process up.sh recorded.
stop() {
  local pidfile="$CLUSTER_DIR/pids/$1" pid
  [ -f "$pidfile" ] || return 0
  pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

say "stopping the kubelet and kube-proxy"
stop kubelet
stop kube-proxy

# Pod containers run under containerd-shim processes that outlive containerd:
# kill and delete every task and container of the CRI namespace first.
if [ -f "$CLUSTER_DIR/pids/containerd" ] && ctr --address "$CONTAINERD_SOCKET" version >/dev/null 2>&1; then
  say "removing Pod containers"
  for id in $(ctr_k8s tasks ls -q 2>/dev/null); do ctr_k8s tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true; done
  for _ in $(seq 1 50); do
    [ -z "$(ctr_k8s tasks ls 2>/dev/null | awk 'NR>1 && $3 != "STOPPED"')" ] && break
    sleep 0.2
  done
  for id in $(ctr_k8s tasks ls -q 2>/dev/null); do ctr_k8s tasks delete -f "$id" >/dev/null 2>&1 || true; done
  for id in $(ctr_k8s containers ls -q 2>/dev/null); do ctr_k8s containers delete "$id" >/dev/null 2>&1 || true; done
fi

say "stopping containerd and the control plane"
stop containerd
stop kube-scheduler
stop kube-controller-manager
stop kube-apiserver
stop etcd

say "unmounting and removing the node's state"
awk '{print $2}' /proc/mounts | grep -E "^($KUBELET_ROOT|$CONTAINERD_STATE|/run/netns/cni-)" | sort -r |
  while read -r m; do umount -l "$m" 2>/dev/null || true; done
rm -rf /run/netns/cni-* "$CONTAINERD_STATE" /var/lib/cni "$KUBELET_ROOT" /var/log/containers /var/log/pods

say "removing network devices, iptables chains and sysctls"
ip link delete "$POD_BRIDGE" 2>/dev/null || true
ip link delete "$NODE_DEVICE" 2>/dev/null || true
# Every KUBE-* chain (the kubelet's KUBE-FIREWALL, KUBE-KUBELET-CANARY,
# KUBE-IPTABLES-HINT and kube-proxy's) and the jumps into them.
for ipt in iptables ip6tables; do
  command -v "$ipt" >/dev/null || continue
  for table in filter nat mangle; do
    "$ipt-save" -t "$table" 2>/dev/null | grep -E '^-A [^ ]+ .*-j KUBE-' | grep -vE '^-A KUBE-' |
      while read -r rule; do eval "$ipt -t $table -D ${rule#-A }" 2>/dev/null || true; done
    for chain in $("$ipt-save" -t "$table" 2>/dev/null | sed -n 's/^:\(KUBE-[^ ]*\) .*/\1/p'); do
      "$ipt" -t "$table" -F "$chain" 2>/dev/null || true
    done
    for chain in $("$ipt-save" -t "$table" 2>/dev/null | sed -n 's/^:\(KUBE-[^ ]*\) .*/\1/p'); do
      "$ipt" -t "$table" -X "$chain" 2>/dev/null || true
    done
  done
done
if [ -f "$CLUSTER_DIR/sysctl.saved" ]; then
  while IFS= read -r kv; do sysctl -qw "$kv" || true; done <"$CLUSTER_DIR/sysctl.saved"
  rm -f "$CLUSTER_DIR/sysctl.saved"
fi

say "removing the kubepods and k8s.io cgroups"
for hierarchy in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
  for top in kubepods kubepods.slice k8s.io; do
    [ -d "$hierarchy$top" ] && find "$hierarchy$top" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
done

rm -rf "$CLUSTER_DIR/etcd" "$CLUSTER_DIR/pids"
say "done"
