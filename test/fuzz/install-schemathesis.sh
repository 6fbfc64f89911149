#!/usr/bin/env bash
# Installs schemathesis and every Python package it needs into .tools/schemathesis for the API fuzz
# test (test/fuzz/api-schemathesis.test.ts runs this first; it does nothing when that exact set is
# there). Every package is pinned to one version and checked against its sha256 from PyPI
# (pip --require-hashes): the lock is test/fuzz/schemathesis-requirements.txt.
# Run it: PYTHONPATH=.tools/schemathesis python3 -m schemathesis.cli run …
#
# To move schemathesis (or its dependencies) forward: change test/fuzz/schemathesis-requirements.in,
# then regenerate the lock with pip-tools (pip install pip-tools, in a virtualenv):
#   pip-compile --generate-hashes --allow-unsafe --no-strip-extras --no-emit-find-links \
#     --output-file=test/fuzz/schemathesis-requirements.txt test/fuzz/schemathesis-requirements.in
# The lock was resolved on Python 3.11 (schemathesis needs 3.11+); a newer Python that needed a
# package the lock lacks fails here naming it, rather than installing it unchecked.
set -euo pipefail
cd "$(dirname "$0")/../.."
LOCK=test/fuzz/schemathesis-requirements.txt
DIR=.tools/schemathesis
# The stamp is the lock's own hash: any change of a pin or a hash installs again.
STAMP=$(sha256sum "$LOCK" | cut -d' ' -f1)
if [ -f "$DIR/.version" ] && [ "$(cat "$DIR/.version")" = "$STAMP" ]; then exit 0; fi
if ! command -v python3 >/dev/null; then echo "python3 is not on PATH: install Python 3.11+ (sudo apt-get install -y python3 python3-pip)" >&2; exit 1; fi
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "schemathesis needs Python 3.11+, python3 is $(python3 --version 2>&1): install a newer python3" >&2
  exit 1
fi
rm -rf "$DIR"
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --require-hashes --target "$DIR" -r "$LOCK"
echo "$STAMP" > "$DIR/.version"
