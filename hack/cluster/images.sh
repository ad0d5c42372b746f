#!/usr/bin/env bash
# make image: builds the cluster's images without a Docker engine or a
# registry, and imports them into the cluster's containerd.
#
#   hack/cluster/images.sh [pause|manager|cloudsim|consumer|all]...   (default: manager cloudsim consumer)
#
# Layers are staged as directories and packed by GNU tar; hack/image (with
# go-containerregistry) assembles them into image tarballs in bin/images,
# which `ctr images import` loads. The manager image matches the Dockerfile's:
# the same static binary (CGO_ENABLED=0, -trimpath, -ldflags "-s -w") at
# /manager, user 65532:65532, workdir /, entrypoint /manager, on a base laid
# out like gcr.io/distroless/static:nonroot (passwd/group with nonroot,
# CA certificates, /tmp, /home/nonroot).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

MANAGER_IMAGE="${MANAGER_IMAGE:-localhost/modelarts-operator:dev}"
CLOUDSIM_IMAGE="${CLOUDSIM_IMAGE:-localhost/modelarts-cloudsim:dev}"
CONSUMER_IMAGE="${CONSUMER_IMAGE:-localhost/modelarts-consumer:dev}"
OUT="$CLUSTER_REPO_ROOT/bin/images"
STAGE="$OUT/stage"
NODE_BIN="${NODE_BIN:-$("$CLUSTER_REPO_ROOT/hack/cluster/provision.sh")}"

[ "$(id -u)" -eq 0 ] || { echo "images: run as root (layers carry root and nonroot ownership; importing needs containerd's socket)" >&2; exit 1; }
mkdir -p "$OUT"
(cd "$CLUSTER_REPO_ROOT" && go build -o "$OUT/image-tool" ./hack/image)

# pack <dir> <tar>: a reproducible layer (sorted, fixed mtime, numeric owners).
pack() { tar --create --file "$2" --sort=name --mtime=@0 --numeric-owner -C "$1" .; }
fresh() { rm -rf "$STAGE/$1"; mkdir -p "$STAGE/$1"; echo "$STAGE/$1"; }

# The distroless static:nonroot layout, built once per run.
base_layer() {
  [ -z "${BASE_DONE:-}" ] || return 0
  local root; root="$(fresh base)"
  mkdir -p "$root"/{etc/ssl/certs,tmp,home/nonroot,root}
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >"$root/etc/group"
  printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  chmod 1777 "$root/tmp"; chmod 700 "$root/root" "$root/home/nonroot"
  chown -R 0:0 "$root"; chown 65532:65532 "$root/home/nonroot"
  pack "$root" "$OUT/base.tar"
  BASE_DONE=1
}

# go_binary_layer <name> <package>: the static binary at /<name>, as the Dockerfile builds it.
go_binary_layer() {
  local root; root="$(fresh "$1")"
  (cd "$CLUSTER_REPO_ROOT" && CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o "$root/$1" "$2")
  chown 0:0 "$root/$1"; chmod 755 "$root/$1"
  pack "$root" "$OUT/$1.tar"
}

# assemble <name> <ref> <image-tool args...>: writes bin/images/<name>-image.tar and imports it.
assemble() {
  local name="$1" ref="$2"; shift 2
  "$OUT/image-tool" --out "$OUT/$name-image.tar" --tag "$ref" "$@"
  ctr_k8s images import "$OUT/$name-image.tar" >/dev/null
  # Pinned images are never garbage-collected by the kubelet.
  ctr_k8s images label "$ref" io.cri-containerd.pinned=pinned >/dev/null
  echo "[image] $ref ($(du -h "$OUT/$name-image.tar" | cut -f1))"
}

distroless_env=(--env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt)

build() {
  case "$1" in
    pause)
      local root; root="$(fresh pause)"
      install -m 755 -o 0 -g 0 "$NODE_BIN/pause" "$root/pause"
      pack "$root" "$OUT/pause.tar"
      assemble pause "$PAUSE_IMAGE" --layer "$OUT/pause.tar" --entrypoint /pause --user 65535:65535 ;;
    manager)
      base_layer; go_binary_layer manager ./cmd
      assemble manager "$MANAGER_IMAGE" --layer "$OUT/base.tar" --layer "$OUT/manager.tar" \
        --entrypoint /manager --user 65532:65532 "${distroless_env[@]}" ;;
    cloudsim)
      base_layer; go_binary_layer cloudsim ./cmd/cloudsim
      assemble cloudsim "$CLOUDSIM_IMAGE" --layer "$OUT/base.tar" --layer "$OUT/cloudsim.tar" \
        --entrypoint /cloudsim --user 65532:65532 "${distroless_env[@]}" ;;
    consumer)
      # Static busybox: its shell runs applets (cat, wget, sleep) without symlinks.
      local root; root="$(fresh consumer)"
      mkdir -p "$root/bin"
      install -m 755 -o 0 -g 0 /usr/bin/busybox "$root/bin/busybox"
      ln -s busybox "$root/bin/sh"
      pack "$root" "$OUT/consumer.tar"
      base_layer
      assemble consumer "$CONSUMER_IMAGE" --layer "$OUT/base.tar" --layer "$OUT/consumer.tar" \
        --entrypoint /bin/sh --user 65532:65532 --env PATH=/bin ;;
    all) build manager; build cloudsim; build consumer ;;
    *) echo "images: unknown image $1 (pause, manager, cloudsim, consumer, all)" >&2; exit 2 ;;
  esac
}

[ $# -gt 0 ] || set -- manager cloudsim consumer
for image in "$@"; do build "$image"; done
