#!/usr/bin/env bash
# Builds the test tools of keda-lab's release path from their Go modules at the pinned versions:
#
# - actionlint: lints .github/workflows/ (the CI and release workflows) inside `npm test`;
# - registry (CNCF Distribution, the reference OCI registry): a real image registry on loopback, so
#   install's pre-flight check that the published image exists talks to the real registry API
#   (manifest endpoint, token auth) instead of a stand-in.
#
# Like scripts/build-kube-tools.sh (same cache, $KEDA_LAB_TOOLS_CACHE, default ~/.cache/keda-lab/tools,
# keyed by version, a `.complete` stamp per tool) but with a lock of its own, so it does not wait for
# the long control-plane build. Usage: build-release-tools.sh [actionlint|registry...] (none = all).
set -euo pipefail

ACTIONLINT_VERSION=v1.7.12
DISTRIBUTION_VERSION=v3.1.2

cache="${KEDA_LAB_TOOLS_CACHE:-$HOME/.cache/keda-lab/tools}"
mkdir -p "$cache"
exec 9>"$cache/.lock-release-tools"
flock 9
command -v go >/dev/null || { echo "go is not on PATH (test tooling: apt-get install golang-go)" >&2; exit 1; }
export GOWORK=off GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0

timed() { # name dir fn: run fn unless dir is complete, then stamp it
  local name=$1 dir=$2 fn=$3 t0
  if [ -f "$dir/.complete" ]; then echo "$name: cached in $dir"; return; fi
  t0=$(date +%s)
  rm -rf "$dir"; mkdir -p "$dir"
  "$fn" "$dir"
  date -u +%FT%TZ > "$dir/.complete"
  echo "$name: built in $(( $(date +%s) - t0 )) s -> $dir"
}

build_actionlint() {
  GOBIN="$1" go install -trimpath -ldflags "-s -w -X github.com/rhysd/actionlint.version=$ACTIONLINT_VERSION" \
    "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
}

build_registry() {
  GOBIN="$1" go install -trimpath -ldflags "-s -w" "github.com/distribution/distribution/v3/cmd/registry@$DISTRIBUTION_VERSION"
}

tools=("$@")
[ ${#tools[@]} -eq 0 ] && tools=(actionlint registry)
for tool in "${tools[@]}"; do
  case "$tool" in
    actionlint) timed actionlint "$cache/actionlint-$ACTIONLINT_VERSION" build_actionlint ;;
    registry) timed registry "$cache/registry-$DISTRIBUTION_VERSION" build_registry ;;
    *) echo "unknown tool: $tool (actionlint, registry)" >&2; exit 2 ;;
  esac
done
