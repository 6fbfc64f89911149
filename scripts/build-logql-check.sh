#!/usr/bin/env bash
# Builds test/tools/logql-check: Loki's own LogQL parser and log pipeline, from Loki's Go module at
# the pre-AGPL commit pinned in test/tools/logql-check/go.mod (Apache-2.0; Loki moved to AGPL-3.0
# in April 2021, and github.com/grafana/loki/v3 is not to be used here). Test tooling only: the
# dashboard test (test/chart/dashboard.test.ts) runs it; keda-lab itself never does.
#
# The binary goes to a cache OUTSIDE the repository, like scripts/build-kube-tools.sh:
# $KEDA_LAB_TOOLS_CACHE (default ~/.cache/keda-lab/tools)/logql-check-<loki version>/. Its
# `.complete` stamp holds the sha256 of the tool's go.mod, go.sum and main.go (in that order): a
# build of other sources is redone. The committed go.sum verifies every module downloaded.
set -euo pipefail

src="$(cd "$(dirname "$0")/.." && pwd)/test/tools/logql-check"
version=$(sed -n 's#^[[:space:]]*require github.com/grafana/loki \(v[^ ]*\)$#\1#p; s#^[[:space:]]*github.com/grafana/loki \(v[^ ]*\)$#\1#p' "$src/go.mod" | head -n1)
[ -n "$version" ] || { echo "no github.com/grafana/loki requirement in $src/go.mod" >&2; exit 1; }
sources=$(cat "$src/go.mod" "$src/go.sum" "$src/main.go" | sha256sum | cut -d' ' -f1)

cache="${KEDA_LAB_TOOLS_CACHE:-$HOME/.cache/keda-lab/tools}"
dir="$cache/logql-check-$version"
mkdir -p "$cache"
# One build at a time per cache (the same lock as build-kube-tools.sh).
exec 9>"$cache/.lock"
flock 9
if [ -f "$dir/.complete" ] && [ "$(cat "$dir/.complete")" = "$sources" ]; then
  echo "logql-check: cached in $dir"
  exit 0
fi
command -v go >/dev/null || { echo "go is not on PATH (test tooling: apt-get install golang-go)" >&2; exit 1; }
export GOWORK=off GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0

# Built from a copy, so that the go command never rewrites the committed go.mod / go.sum.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$src/go.mod" "$src/go.sum" "$src/main.go" "$work/"
t0=$(date +%s)
rm -rf "$dir"; mkdir -p "$dir"
(cd "$work" && go build -trimpath -ldflags "-s -w" -o "$dir/logql-check" .)
if ! cmp -s "$src/go.sum" "$work/go.sum" || ! cmp -s "$src/go.mod" "$work/go.mod"; then
  echo "building logql-check changed its go.mod/go.sum: run 'go mod tidy' in $src and commit the result" >&2
  exit 1
fi
echo "$sources" > "$dir/.complete"
echo "logql-check: built in $(( $(date +%s) - t0 )) s -> $dir (github.com/grafana/loki $version)"
