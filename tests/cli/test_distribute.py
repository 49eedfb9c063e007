"""`seq2seq train --distribute`: data-parallel training over devices and processes (JAX).

Two processes on the loopback address, one CPU device each, joined by Keras'
`KERAS_DISTRIBUTION_*` variables, train together and must end with the weights of a
one-process run with the same global batch; so must one process with two CPU devices
(docs/distribution.md). Each run is a fresh process, because JAX fixes its devices and
its process group when it starts.
"""

import os
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest
from cli_helpers import run

from seq2seq.training.checkpoint import Checkpoint
from seq2seq.training.distribution import ENVIRONMENT, DistributionError, Processes, start
from seq2seq.training.run_folder import RunFolder

jax_only = pytest.mark.skipif(
    keras.backend.backend() != "jax", reason="--distribute runs on JAX (keras.distribution)"
)

# 48 training and 6 validation examples: 6 batches of 8, and the validation split divides
# over two devices as it is, so the reference run sees the same data.
EXAMPLES, BATCH, STEPS = 60, 8, 6
TRAIN = ["--model", "simple", "--hidden", "4", "--epochs", "1", "--batch-size", str(BATCH),
         "--learning-rate", "0.01", "--checkpoint-every", "1", "--keep-checkpoints", "10"]  # fmt: skip
# A hung collective fails the test instead of hanging CI.
TIMEOUT = 300


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "pairs.npz"
    rng = np.random.default_rng(0)
    x = rng.normal(size=(EXAMPLES, 5, 2)).astype("float32")
    np.savez(path, x=x, y=rng.normal(size=(EXAMPLES, 4, 2)).astype("float32"))
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(args, **environment):
    env = {**os.environ, "KERAS_BACKEND": "jax", **environment}
    command = [sys.executable, "-m", "seq2seq", "train", *map(str, args)]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip


def _finish(process) -> str:
    try:
        output, _ = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        pytest.fail(f"no result after {TIMEOUT} s (a hung collective?):\n{output[-3000:]}")
    assert process.returncode == 0, output[-3000:]
    return output


@pytest.fixture(scope="module")
def runs(data, tmp_path_factory):
    """Run folders: two processes, one process with two devices, and the reference."""
    root = tmp_path_factory.mktemp("runs")
    address = f"127.0.0.1:{_free_port()}"
    started = {
        f"process {i}": _start(
            [data, *TRAIN, "--distribute", "--out", root / "two_processes"],
            KERAS_DISTRIBUTION_JOB_ADDRESSES=address,
            KERAS_DISTRIBUTION_NUM_PROCESSES="2",
            KERAS_DISTRIBUTION_PROCESS_ID=str(i),
        )
        for i in range(2)
    }
    # Two devices on two cores need more XLA threads than devices (docs/distribution.md).
    started["two devices"] = _start(
        [data, *TRAIN, "--distribute", "--out", root / "two_devices"],
        XLA_FLAGS="--xla_force_host_platform_device_count=2",
        PJRT_NPROC="4",
    )
    # The reference trains in this process, one device, while the others run.
    code, stdout, stderr = run("train", data, *TRAIN, "--out", root / "one_process")
    assert code == 0, stderr
    outputs = {name: _finish(process) for name, process in started.items()}
    return root, outputs


def _checkpoint(folder, step):
    return Checkpoint.load(RunFolder(folder).checkpoint_path(step)).arrays["model"]


def _largest_difference(a, b):
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b, strict=True))


@jax_only
@pytest.mark.parametrize("run_folder", ["two_processes", "two_devices"])
def test_distributed_training_matches_one_process(runs, run_folder):
    root, _ = runs
    reference = [_checkpoint(root / "one_process", step) for step in (1, STEPS)]
    # Six steps of lr 0.01 move the weights; the distributed runs move them alike.
    assert _largest_difference(*reference) > 1e-3
    for step, expected in zip((1, STEPS), reference):
        assert _largest_difference(_checkpoint(root / run_folder, step), expected) < 1e-6
    assert (root / run_folder / "metrics.json").is_file()


@jax_only
def test_process_0_alone_writes_the_run_folder(runs):
    _, outputs = runs
    assert "--distribute: batches of 8 over 2 devices in 2 process(es)" in outputs["process 0"]
    assert "Wrote model.keras" in outputs["process 0"]
    assert "Process 1 of 2: trained for 1 epochs; process 0 writes" in outputs["process 1"]
    assert "Wrote" not in outputs["process 1"]


def test_distribute_needs_jax(data, tmp_path):
    if keras.backend.backend() == "jax":
        pytest.skip("the error of the other backends")
    code, _, stderr = run("train", data, "--distribute", "--out", tmp_path / "run")
    assert code == 2
    assert stderr.strip() == (
        f"seq2seq train: error: --distribute: expected the jax backend (KERAS_BACKEND=jax), received "
        f"{keras.backend.backend()}"
    )


def test_every_batch_divides():
    """Full training batches and a validation split that divides over the devices."""
    processes = Processes(process_id=1, num_processes=2, num_devices=4)
    arrays = {"train": (np.arange(21), np.arange(21)), "validation": (np.arange(7),) * 2}
    kept, note = processes.divisible(arrays, batch_size=8)
    assert [len(kept[name][0]) for name in ("train", "validation")] == [16, 4]
    assert note == (
        "--distribute: batches of 8 over 4 devices in 2 process(es); dropped the last 5 of 21 "
        "train examples and the last 3 of 7 validation examples so that every batch divides"
    )
    with pytest.raises(DistributionError, match="expected a multiple of 4"):
        processes.divisible(arrays, batch_size=6)
    # The other references of validation rows: those of the rows kept stay.
    alternatives = (np.array([1, 3, 5, 6]), np.arange(8).reshape(4, 2))
    kept, _ = processes.divisible({**arrays, "alternatives": alternatives}, batch_size=8)
    assert kept["alternatives"][0].tolist() == [1, 3]
    assert kept["alternatives"][1].tolist() == [[0, 1], [2, 3]]


def test_each_process_scores_its_block_of_validation_rows():
    validation = (np.arange(8), np.arange(8) * 10)
    alternatives = (np.array([0, 3, 4, 4, 7]), np.arange(10).reshape(5, 2))
    shares = [Processes(i, 2, 2).validation_share(validation, alternatives) for i in range(2)]
    assert [share[0][1].tolist() for share in shares] == [[0, 10, 20, 30], [40, 50, 60, 70]]
    # Alternatives follow their rows, numbered from the block's first row.
    assert [share[1][0].tolist() for share in shares] == [[0, 3], [0, 0, 3]]
    assert shares[1][1][1].tolist() == [[4, 5], [6, 7], [8, 9]]
    assert Processes(0, 2, 2).validation_share(validation)[1] is None


def test_each_process_feeds_its_rows_of_every_batch():
    rows = np.arange(16)
    shares = [Processes(i, 2, 2).share(rows, batch_size=8) for i in range(2)]
    assert shares[0].tolist() == [0, 1, 2, 3, 8, 9, 10, 11]
    assert shares[1].tolist() == [4, 5, 6, 7, 12, 13, 14, 15]


@jax_only
def test_an_incomplete_environment_is_one_line():
    with pytest.raises(DistributionError) as error:
        start(BATCH, environ={ENVIRONMENT[0]: "127.0.0.1:1234", ENVIRONMENT[2]: "0"})
    assert str(error.value) == (
        "--distribute on several hosts: KERAS_DISTRIBUTION_JOB_ADDRESSES, "
        "KERAS_DISTRIBUTION_PROCESS_ID set, expected KERAS_DISTRIBUTION_NUM_PROCESSES too"
    )
