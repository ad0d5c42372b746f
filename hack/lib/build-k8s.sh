#!/usr/bin/env bash
# Builds Kubernetes commands of one release from the Go module proxy.
#
#   hack/lib/build-k8s.sh <version> <out-dir> <command>...
#
# e.g. `build-k8s.sh 1.37.2 ~/.local/share/x kubelet kube-proxy` writes
# <out-dir>/kubelet and <out-dir>/kube-proxy. Commands are the names under
# k8s.io/kubernetes/cmd. They are built in one `go build`, so shared packages
# compile once; the Go build cache makes later builds of the same release fast.
set -euo pipefail

version="$1"; out="$2"; shift 2
minor="${version#*.}"
staging_version="v0.${minor}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
cd "$work"
go mod init k8s-build >/dev/null 2>&1
go mod edit -require="k8s.io/kubernetes@v${version}"
gomod="$(go mod download -json "k8s.io/kubernetes@v${version}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
# k8s.io/kubernetes replaces its staging modules with local paths; point them at released versions.
grep -oE '^\s*k8s.io/[a-z0-9-]+ => \./staging' "$gomod" | awk '{print $1}' | while read -r m; do
  go mod edit -replace="${m}=${m}@${staging_version}"
done
{
  printf '//go:build tools\n\npackage tools\n\nimport (\n'
  for cmd in "$@"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$cmd"; done
  printf ')\n'
} > tools.go
GOFLAGS=-mod=mod go mod tidy -e >/dev/null 2>&1 || true

ldflags="-s -w -X k8s.io/component-base/version.gitVersion=v${version} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor%%.*}"
pkgs=()
for cmd in "$@"; do pkgs+=("k8s.io/kubernetes/cmd/$cmd"); done
# Build into a scratch directory, then move: an interrupted build leaves no half-written binary in the cache.
mkdir -p "$work/out"
CGO_ENABLED=0 GOFLAGS=-mod=mod go build -ldflags "$ldflags" -o "$work/out/" "${pkgs[@]}"
for cmd in "$@"; do mv "$work/out/$cmd" "$out/$cmd"; done
