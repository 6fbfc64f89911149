#!/usr/bin/env bash
# Fetches the SOURCES of the third-party Helm charts keda-lab installs, at the exact commits
# below, through the Go module proxy (the only route to GitHub from the build machine: the
# proxy serves any public repository as a module zip), and copies the charts to .tools/charts/.
# Test tooling only: test/chart/third-party.test.ts renders them with the values `install`
# writes. The chart versions found there are the ones pinned in src/lab/charts.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v go >/dev/null || { echo "go is not on PATH (test tooling: apt-get install golang, or https://go.dev/dl)" >&2; exit 1; }
out=.tools/charts
stamp=$(sha256sum "$0" | cut -d' ' -f1)   # refetch when this script (its pins) changes
if [ "$(cat "$out/.complete" 2>/dev/null)" = "$stamp" ]; then exit 0; fi
rm -rf "$out"; mkdir -p "$out"
fetch() { # module@version -> directory of the extracted module
  GOFLAGS=-mod=mod go mod download -json "$1" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'
}
keda=$(fetch github.com/kedacore/charts@v2.20.3-0.20260903105638-fe065f4d8938+incompatible)
dandy=$(fetch github.com/DandyDeveloper/charts@v0.0.0-20260615041936-2e2539a8960e)
promc=$(fetch github.com/prometheus-community/helm-charts@v0.0.0-20260828105119-ed5d7d9b5933)
gcomm=$(fetch github.com/grafana-community/helm-charts@v0.0.0-20260829030558-dbf9f4fb5fa1)
grafana=$(fetch github.com/grafana/helm-charts@v0.0.0-20260820194520-7a0ab968961a)
minio=$(fetch github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c)
cp -r "$keda/keda" "$out/keda"
cp -r "$dandy/charts/redis-ha" "$out/redis-ha"
cp -r "$gcomm/charts/loki" "$out/loki"
# Loki's dependencies (both disabled in single-binary mode, but Helm wants them present).
mkdir -p "$out/loki/charts"
cp -r "$minio/helm/minio" "$out/loki/charts/minio"
cp -r "$grafana/charts/rollout-operator" "$out/loki/charts/rollout-operator"
cp -r "$promc/charts/kube-prometheus-stack" "$out/kube-prometheus-stack"
# kube-prometheus-stack's dependencies, vendored the way `helm dependency build` would.
mkdir -p "$out/kube-prometheus-stack/charts"
for dep in kube-state-metrics prometheus-node-exporter prometheus-windows-exporter; do
  cp -r "$promc/charts/$dep" "$out/kube-prometheus-stack/charts/$dep"
done
cp -r "$gcomm/charts/grafana" "$out/kube-prometheus-stack/charts/grafana"
chmod -R u+w "$out"
echo "$stamp" > "$out/.complete"
for c in keda redis-ha loki kube-prometheus-stack; do
  printf '%s %s\n' "$c" "$(sed -n 's/^version: //p' "$out/$c/Chart.yaml")"
done
