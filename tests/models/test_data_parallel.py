"""Data parallelism on `keras.distribution` (JAX): the same training, partitioned per device.

`data_parallel_check.py` runs in a fresh process with two JAX CPU devices (the device
count is fixed when JAX starts) and trains each model with and without
`keras.distribution.DataParallel`.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "jax", reason="keras.distribution runs on JAX"
)

DEVICES = 2


@pytest.fixture(scope="module")
def report():
    env = dict(os.environ)
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={DEVICES}"
    # XLA's CPU client runs each device's program on a thread of a pool sized to the
    # cores; with no more cores than devices, the all-reduce waits for a device that has
    # no thread left. More threads than devices avoid that (docs/distribution.md).
    env["PJRT_NPROC"] = str(2 * DEVICES)
    out = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("data_parallel_check.py"))],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_runs_on_the_requested_devices(report):
    assert report["devices"] == DEVICES


@pytest.mark.parametrize("model", ["simple", "seq2seq", "attention"])
def test_data_parallel_training_matches_one_device(report, model):
    result = report[model]
    # Training moved the weights (Adam, 3 steps of lr 1e-3), and both runs moved them alike.
    assert result["max_weight_change"] > 1e-3
    assert result["max_weight_difference"] < 1e-6


@pytest.mark.parametrize("model", ["simple", "seq2seq", "attention"])
def test_each_device_keeps_its_part_of_the_batch(report, model):
    """The gradients are summed across devices once (all-reduce); no device gathers the
    other's activations (all-gather), which would repeat the whole batch's recurrence
    work on every device."""
    collectives = report[model]["collectives"]
    assert collectives["all-gather"] == 0, collectives
    assert collectives["all-reduce"] >= 1, collectives
    assert collectives["all-to-all"] == 0 and collectives["collective-permute"] == 0


def test_generation_under_a_distribution_matches_one_device(report):
    """Greedy ids for a batch of 7 (not divisible by the 2 devices) agree."""
    assert report["attention"]["generated_ids_equal"] is True
