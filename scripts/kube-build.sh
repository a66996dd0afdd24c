#!/usr/bin/env bash
# Builds the real kube-apiserver and etcd the kind lab's API-server test starts, from their Go modules,
# at the kind node's Kubernetes version (kustomize/overlays/kind/kind-cluster.yaml) and the etcd version
# that Kubernetes release pins (its build/dependencies.yaml), into
# ${MOP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mop}/kube/<version>/{kube-apiserver,etcd}. Idempotent:
# nothing is built when both binaries are there; `--check` only answers whether they are (exit 0/1).
# Needs Go (the version k8s.io/kubernetes' go.mod names) and the Go module proxy.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(grep -o 'kindest/node:v[0-9][0-9.]*' kustomize/overlays/kind/kind-cluster.yaml | head -1 | cut -d: -f2)
[ -n "$version" ] || { echo "no kindest/node:vX.Y.Z in kustomize/overlays/kind/kind-cluster.yaml" >&2; exit 1; }
out=${MOP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mop}/kube/$version
if [ -x "$out/kube-apiserver" ] && [ -x "$out/etcd" ]; then
  [ "${1:-}" = --check ] || echo "kube $version: cached in $out"
  exit 0
fi
[ "${1:-}" != --check ] || exit 1
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then export PATH="$PATH:/usr/local/go/bin"; fi
command -v go >/dev/null || { echo "go not found: install Go >= 1.26 (https://go.dev/dl, or apt golang-1.26)" >&2; exit 1; }
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
export GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0
dir_of() { go mod download -json "$1" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'; }
start=$(date +%s)

# k8s.io/kubernetes as a module: its go.mod replaces the k8s.io/* staging repos with ./staging/src/...,
# which the module zip leaves out (each has its own go.mod). The same code is published as the
# k8s.io/<repo> modules at v0.<minor>.<patch>: put those where the replaces point, in a writable copy.
src=$(dir_of "k8s.io/kubernetes@$version")
[ -n "$src" ] || { echo "go mod download k8s.io/kubernetes@$version failed" >&2; exit 1; }
cp -r "$src" "$work/kubernetes"
chmod -R u+w "$work/kubernetes"
rm -rf "$work/kubernetes/vendor" "$work/kubernetes/go.work" "$work/kubernetes/go.work.sum"
staging=v0.${version#v1.}
for repo in $(sed -n 's|^\tk8s.io/\([a-z-]*\) => ./staging/src/k8s.io/.*|\1|p' "$work/kubernetes/go.mod"); do
  d=$(dir_of "k8s.io/$repo@$staging")
  [ -n "$d" ] || { echo "go mod download k8s.io/$repo@$staging failed" >&2; exit 1; }
  mkdir -p "$work/kubernetes/staging/src/k8s.io"
  cp -r "$d" "$work/kubernetes/staging/src/k8s.io/$repo"
done
chmod -R u+w "$work/kubernetes/staging"
etcd=$(awk '/name: "etcd"/ {getline; print $2; exit}' "$work/kubernetes/build/dependencies.yaml")
[ -n "$etcd" ] || { echo "no etcd version in k8s.io/kubernetes@$version build/dependencies.yaml" >&2; exit 1; }
pkg=k8s.io/component-base/version
ldflags="-s -w -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$(echo "$version" | cut -d. -f2)"
ldflags="$ldflags -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
(cd "$work/kubernetes" && go build -trimpath -ldflags "$ldflags" -o "$work/bin/kube-apiserver" ./cmd/kube-apiserver)
echo "kube-apiserver $version built in $(($(date +%s) - start)) s"

# etcd's main package is go.etcd.io/etcd/server/v3; its go.mod's replaces only matter inside etcd's own
# repository, so a throw-away module requiring it at the pinned version builds the release's code.
mid=$(date +%s)
mkdir "$work/etcd"
(cd "$work/etcd" && go mod init mop.local/etcd-build >/dev/null 2>&1 &&
  go get "go.etcd.io/etcd/server/v3@v$etcd" >/dev/null &&
  go build -trimpath -ldflags "-s -w" -o "$work/bin/etcd" go.etcd.io/etcd/server/v3)
echo "etcd v$etcd built in $(($(date +%s) - mid)) s"

mkdir -p "$out"
mv "$work/bin/kube-apiserver" "$work/bin/etcd" "$out/"
echo "v$etcd" >"$out/etcd.version"
echo "kube $version + etcd v$etcd in $out ($(($(date +%s) - start)) s)"
