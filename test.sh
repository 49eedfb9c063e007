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

run_job() {
    # run_job NAME BACKEND PATHS... : one pytest run, its log and exit status under NAME.
    # Any non-zero exit, including pytest's 5 (no tests collected), fails the run.
    local name=$1 backend=$2
    shift 2
    KERAS_BACKEND=$backend python -m pytest -q -p no:cacheprovider "$@" "${args[@]}" \
        > "$logs/$name.log" 2>&1 && echo 0 > "$logs/$name.status" || echo $? > "$logs/$name.status"
}

# Backends are spread over $lanes lanes that run side by side (much of a run is
# single-threaded compilation); each lane tests its backends one after another.
# The first backend (the longest suite, JAX's) has a lane of its own, and without pytest
# arguments the files in $split run in the last lane after its backends, so that the
# lanes end at about the same time.
args=("$@")
split=(tests/models/test_properties.py tests/cli/test_resume.py)
((lanes > 1 && ${#backends[@]} > 1 && $# == 0)) || split=()
ignored=()
for path in "${split[@]}"; do ignored+=(--ignore "$path"); done
lane_of() {
    if ((lanes == 1 || $1 == 0)); then echo 0; else echo $((1 + ($1 - 1) % (lanes - 1))); fi
}
last_lane=$(lane_of $((${#backends[@]} - 1)))
pids=()
for ((lane = 0; lane < lanes; lane++)); do
    (
        for ((i = 0; i < ${#backends[@]}; i++)); do
            if (($(lane_of "$i") == lane)); then
                if ((i == 0)); then
                    run_job "${backends[0]}" "${backends[0]}" tests "${acceptance[@]}" "${ignored[@]}"
                else
                    run_job "${backends[i]}" "${backends[i]}" tests "${acceptance[@]}"
                fi
            fi
        done
        if ((${#split[@]} > 0 && lane == last_lane)); then
            run_job "${backends[0]}-split" "${backends[0]}" "${split[@]}"
        fi
    ) &
    pids+=($!)
done
wait "${pids[@]}"

failed=()
names=("${backends[@]}")
((${#split[@]} == 0)) || names+=("${backends[0]}-split")
for name in "${names[@]}"; do
    echo "== tests on $name =="
    cat "$logs/$name.log"
    [ "$(cat "$logs/$name.status")" = 0 ] || failed+=("$name")
done
rm -rf "$logs"
if [ ${#failed[@]} -gt 0 ]; then
    echo "tests failed on: ${failed[*]}"
    exit 1
fi
echo "tests passed on: ${backends[*]}"
