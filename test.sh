#!/usr/bin/env bash
# Sets up a virtual environment with the three Keras backends and runs the test suite on each.
# Usage: ./test.sh [pytest arguments]     Environment: BACKENDS="jax tensorflow torch", VENV=.venv
set -euo pipefail
cd "$(dirname "$0")"
venv=${VENV:-.venv}
backends=${BACKENDS:-"jax tensorflow torch"}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
. "$venv/bin/activate"
python -m pip install -q --upgrade pip
python -m pip install -q -e ".[test,tensorflow,torch]"
ruff check src tests benchmarks
acceptance=()
[ -f ../shared/acceptance/seed_examples.py ] && acceptance=(../shared/acceptance/seed_examples.py)
failed=()
for backend in $backends; do
    echo "== tests on $backend =="
    # Any non-zero exit, including pytest's 5 (no tests collected), fails the run.
    KERAS_BACKEND=$backend python -m pytest -q -p no:cacheprovider tests "${acceptance[@]}" "$@" || failed+=("$backend")
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "tests failed on: ${failed[*]}"
    exit 1
fi
echo "tests passed on: $backends"
