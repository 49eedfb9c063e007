#!/usr/bin/env bash
# Sets up a virtual environment with the three Keras backends and runs the test suite on each.
# Usage: ./test.sh [pytest arguments]
# Environment: BACKENDS="jax tensorflow torch", VENV=.venv, LANES=2 (backends tested at once).
set -euo pipefail
cd "$(dirname "$0")"
venv=${VENV:-.venv}
read -r -a backends <<< "${BACKENDS:-jax tensorflow torch}"
lanes=${LANES:-2}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
. "$venv/bin/activate"
python -m pip install -q --upgrade pip
python -m pip install -q -e ".[test,tensorflow,torch,export,serve]"
# tests/serving opens the web page in headless Chromium (a Debian package) and fails without it.
command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
export SEQ2SEQ_REQUIRE_BROWSER=1
ruff check src tests benchmarks
acceptance=()
[ -f ../shared/acceptance/seed_examples.py ] && acceptance=(../shared/acceptance/seed_examples.py)
logs=$(mktemp -d)

test_backend() {
    # Any non-zero exit, including pytest's 5 (no tests collected), fails the run.
    KERAS_BACKEND=$1 python -m pytest -q -p no:cacheprovider tests "${acceptance[@]}" "${@:2}" \
        > "$logs/$1.log" 2>&1 && echo 0 > "$logs/$1.status" || echo $? > "$logs/$1.status"
}

# Backends are spread over $lanes lanes that run side by side (much of a run is
# single-threaded compilation); each lane tests its backends one after another.
# The first backend (the longest suite, JAX's) has a lane of its own.
lane_of() {
    if ((lanes == 1 || $1 == 0)); then echo 0; else echo $((1 + ($1 - 1) % (lanes - 1))); fi
}
pids=()
for ((lane = 0; lane < lanes; lane++)); do
    (
        for ((i = 0; i < ${#backends[@]}; i++)); do
            if (($(lane_of "$i") == lane)); then test_backend "${backends[i]}" "$@"; fi
        done
    ) &
    pids+=($!)
done
wait "${pids[@]}"

failed=()
for backend in "${backends[@]}"; do
    echo "== tests on $backend =="
    cat "$logs/$backend.log"
    [ "$(cat "$logs/$backend.status")" = 0 ] || failed+=("$backend")
done
rm -rf "$logs"
if [ ${#failed[@]} -gt 0 ]; then
    echo "tests failed on: ${failed[*]}"
    exit 1
fi
echo "tests passed on: ${backends[*]}"
