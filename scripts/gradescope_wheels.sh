#!/usr/bin/env bash
# Set-up step (never run by the tests): download the numpy wheels the Gradescope zip's
# requirements.txt names, for each Python the zip accepts, into DIR (default .cache/wheels).
# tests/test_gradescope.py then installs from DIR only (PIP_NO_INDEX): nothing is
# downloaded while tests run. Wheels already there are not fetched again.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="${1:-.cache/wheels}"
PY="${PYTHON:-.venv/bin/python}"
mkdir -p "$DIR"
# (pip download judges requirements.txt's markers by its own Python: ask per version)
for v in $("$PY" -c "from autograder.gradescope import PYTHONS; print(*PYTHONS)"); do
  numpy="$("$PY" -c "from autograder.gradescope import numpy_for; print(numpy_for('$v'))")"
  "$PY" -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
      --python-version "$v" "numpy==$numpy" -d "$DIR" \
    || echo "WARNING: no numpy wheel for Python $v: its Gradescope simulation test will be skipped"
done
