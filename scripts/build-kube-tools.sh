#!/usr/bin/env bash
# Builds the real Kubernetes control plane the cluster-side tests run on — etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kwok, metrics-server (the metrics API the API's HPA
# reads) — KEDA's operator and metrics adapter, and the kube-score policy linter the chart tests run on the rendered app chart, from their Go modules at
# the pinned versions below. Test and developer tooling only: keda-lab itself
# never runs these. See ../shared/CONTROL-PLANE.md for the recipe this follows.
#
# Binaries go to a cache OUTSIDE the repository, keyed by version, so a fresh clone (CI) reuses
# them: $KEDA_LAB_TOOLS_CACHE (default ~/.cache/keda-lab/tools)/<name>-<version>/. A tool whose
# directory holds a `.complete` stamp is not rebuilt. Usage: build-kube-tools.sh [tool...]
# (tools: etcd kube kwok metrics-server keda kube-score; none = all). Prints one line per tool with its build time.
set -euo pipefail

ETCD_VERSION=v3.6.16
KUBE_VERSION=v1.34.12
KWOK_VERSION=v0.8.0
# v0.9.1 needs Go 1.26.10; v0.9.0 builds with the machine's Go.
METRICS_SERVER_VERSION=v0.9.0
KEDA_VERSION=v2.20.2
KUBE_SCORE_VERSION=v1.20.0

cache="${KEDA_LAB_TOOLS_CACHE:-$HOME/.cache/keda-lab/tools}"
mkdir -p "$cache"
# One build at a time per cache (CI's background build and `npm test` may both start one).
exec 9>"$cache/.lock"
flock 9
command -v go >/dev/null || { echo "go is not on PATH (test tooling: apt-get install golang-go)" >&2; exit 1; }
export GOWORK=off GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0

work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

moddir() { # module@version -> the extracted module directory in the Go module cache
  go mod download -json "$1" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'
}

timed() { # name dir fn: run fn unless dir is complete, then stamp it
  local name=$1 dir=$2 fn=$3 t0
  if [ -f "$dir/.complete" ]; then echo "$name: cached in $dir"; return; fi
  t0=$(date +%s)
  rm -rf "$dir"; mkdir -p "$dir"
  "$fn" "$dir"
  date -u +%FT%TZ > "$dir/.complete"
  echo "$name: built in $(( $(date +%s) - t0 )) s -> $dir"
}

build_etcd() {
  # go.etcd.io/etcd/server/v3 carries `replace ../api` lines, so `go install` refuses it; a tiny
  # module that requires it (and calls etcdmain.Main, what etcd's own main does) builds it.
  local src="$work/etcd"
  mkdir -p "$src"
  cat > "$src/go.mod" <<EOF
module keda-lab.test/etcd

go 1.24

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
EOF
  cat > "$src/main.go" <<'EOF'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF
  (cd "$src" && go mod tidy >/dev/null && go build -trimpath -ldflags "-s -w" -o "$1/etcd" .)
}

build_kube() {
  # k8s.io/kubernetes replaces its staging modules with ./staging/src/... directories that the
  # module zip does not contain: point each replace at the published module of the same version.
  local mod src="$work/kubernetes" v=${KUBE_VERSION#v}
  mod=$(moddir "k8s.io/kubernetes@$KUBE_VERSION")
  cp -r "$mod" "$src"; chmod -R u+w "$src"
  sed -i -E "s#^(\s*k8s\.io/[a-z0-9-]+) => \./staging/src/k8s\.io/[a-z0-9-]+#\1 => \1 v0.${v#1.}#" "$src/go.mod"
  if grep -q './staging/' "$src/go.mod"; then echo "unrewritten staging replace in k8s.io/kubernetes go.mod" >&2; exit 1; fi
  local minor; minor=$(echo "$v" | cut -d. -f2)
  local ld="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION"
  ld="$ld -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
  ld="$ld -X k8s.io/component-base/version.gitTreeState=clean"
  (cd "$src" && go build -trimpath -ldflags "$ld" -o "$1/" ./cmd/kube-apiserver ./cmd/kube-controller-manager ./cmd/kube-scheduler)
}

build_kwok() {
  GOBIN="$1" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  kwok_files "$1"
}

kwok_files() {
  # What kwok's module ships beside the program: its lifecycle stages (pods go Running, nodes go
  # Ready), the Metric that serves a kubelet's /metrics/resource (what metrics-server scrapes) and
  # the CRDs of its simulated resource usage (ResourceUsage, ClusterResourceUsage).
  local mod; mod=$(moddir "sigs.k8s.io/kwok@$KWOK_VERSION")
  mkdir -p "$1/stage" "$1/metrics" "$1/crd"
  cp -r "$mod/kustomize/stage/." "$1/stage/"
  cp "$mod/kustomize/metrics/resource/metrics-resource.yaml" "$1/metrics/"
  cp "$mod/kustomize/crd/bases/kwok.x-k8s.io_resourceusages.yaml" "$mod/kustomize/crd/bases/kwok.x-k8s.io_clusterresourceusages.yaml" "$1/crd/"
  chmod -R u+w "$1/stage" "$1/metrics" "$1/crd"
}

build_metrics_server() {
  # Apache-2.0. No replace directives: `go install` builds it as published.
  GOBIN="$1" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/metrics-server/cmd/metrics-server@$METRICS_SERVER_VERSION"
}

build_keda() {
  local mod src="$work/keda"
  mod=$(moddir "github.com/kedacore/keda/v2@$KEDA_VERSION")
  cp -r "$mod" "$src"; chmod -R u+w "$src"
  (cd "$src" && go build -trimpath -ldflags "-s -w -X github.com/kedacore/keda/v2/version.Version=${KEDA_VERSION#v}" \
    -o "$1/" ./cmd/operator ./cmd/adapter)
}

build_kube_score() {
  # MIT licence (LICENSE in its module). No replace directives: `go install` builds it as published.
  GOBIN="$1" go install -trimpath -ldflags "-s -w -X main.version=${KUBE_SCORE_VERSION#v}" \
    "github.com/zegl/kube-score/cmd/kube-score@$KUBE_SCORE_VERSION"
}

tools=("$@")
[ ${#tools[@]} -gt 0 ] || tools=(etcd kube kwok metrics-server keda kube-score)
for t in "${tools[@]}"; do
  case "$t" in
    etcd) timed etcd "$cache/etcd-$ETCD_VERSION" build_etcd ;;
    kube) timed kube "$cache/kube-$KUBE_VERSION" build_kube ;;
    kwok)
      timed kwok "$cache/kwok-$KWOK_VERSION" build_kwok
      # A kwok built before the metrics files were needed gets them without a rebuild.
      if [ ! -d "$cache/kwok-$KWOK_VERSION/crd" ]; then kwok_files "$cache/kwok-$KWOK_VERSION"; echo "kwok: added its metrics files"; fi
      ;;
    metrics-server) timed metrics-server "$cache/metrics-server-$METRICS_SERVER_VERSION" build_metrics_server ;;
    keda) timed keda "$cache/keda-$KEDA_VERSION" build_keda ;;
    kube-score) timed kube-score "$cache/kube-score-$KUBE_SCORE_VERSION" build_kube_score ;;
    *) echo "unknown tool $t (etcd kube kwok metrics-server keda kube-score)" >&2; exit 2 ;;
  esac
done
