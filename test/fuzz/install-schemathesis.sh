#!/usr/bin/env bash
# Installs schemathesis (PyPI, pinned) into .tools/schemathesis for the API fuzz test
# (test/fuzz/api-schemathesis.test.ts runs this first; it does nothing when the pinned version is there).
# Run it: PYTHONPATH=.tools/schemathesis python3 -m schemathesis.cli run …
set -euo pipefail
cd "$(dirname "$0")/../.."
VERSION=4.32.5
DIR=.tools/schemathesis
if [ -f "$DIR/.version" ] && [ "$(cat "$DIR/.version")" = "$VERSION" ]; then exit 0; fi
if ! command -v python3 >/dev/null; then echo "python3 is not on PATH: install Python 3.9+ (sudo apt-get install -y python3 python3-pip)" >&2; exit 1; fi
rm -rf "$DIR"
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target "$DIR" "schemathesis==$VERSION"
echo "$VERSION" > "$DIR/.version"
