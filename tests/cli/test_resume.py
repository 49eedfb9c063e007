"""Long runs: checkpoints, `--resume`, Ctrl-C, a diverging loss, and SIGKILL at random points.

The resumed run must end with the same weights and `history.csv` as a run that
was never interrupted: bit for bit on JAX (the promise), and on the other
backends too where their CPU kernels are deterministic (asserted exactly as well).
"""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
from cli_helpers import run
from helpers import backend_independent

from seq2seq.config import load_config
from seq2seq.training.checkpoint import Checkpoint
from seq2seq.training.run_folder import RunFolder
from seq2seq.training.step_watch import StepWatch

# The resume itself is checked on every backend by the SIGINT test here and by
# tests/training/test_training_run.py; the rest runs on JAX (`backend_independent`).

# About 40 steps per epoch at a tiny size: quick, and room for several checkpoints.
TRAIN = ["--task", "reverse", "--max-examples", "1000", "--hidden", "8",
         "--embedding-dim", "8", "--batch-size", "20", "--epochs", "3", "--patience", "1",
         "--checkpoint-every", "7", "--keep-checkpoints", "2"]  # fmt: skip


def _weights(run_dir):
    """The final checkpoint's arrays (model, optimizer, best weights)."""
    checkpoint = Checkpoint.load(RunFolder(run_dir).checkpoint_paths()[-1])
    return {group: checkpoint.arrays[group] for group in ("model", "optimizer", "best")}


def _assert_same_run(run_dir, reference):
    assert (run_dir / "history.csv").read_text() == (reference / "history.csv").read_text()
    ours, theirs = _weights(run_dir), _weights(reference)
    for group in ours:
        assert len(ours[group]) == len(theirs[group]) > 0, group
        for a, b in zip(ours[group], theirs[group]):
            np.testing.assert_array_equal(a, b, err_msg=group)
    saved = keras.saving.load_model(run_dir / "model.keras", compile=False)
    expected = keras.saving.load_model(reference / "model.keras", compile=False)
    for a, b in zip(saved.get_weights(), expected.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run."""
    out = tmp_path_factory.mktemp("reference") / "run"
    code, stdout, err = run("train", *TRAIN, "--out", out)
    assert code == 0, err
    return out


def _interrupt_at(monkeypatch, step, signum):
    """Sends `signum` to this process after the training step numbered `step` (from 1)."""
    original = StepWatch.on_train_batch_end

    def on_train_batch_end(self, batch, logs=None):
        if self.global_step + 1 == step:
            os.kill(os.getpid(), signum)
        return original(self, batch, logs)

    monkeypatch.setattr(StepWatch, "on_train_batch_end", on_train_batch_end)


@pytest.mark.parametrize(
    "signum, status",
    [(signal.SIGINT, 130), pytest.param(signal.SIGTERM, 143, marks=backend_independent)],
)
def test_a_signal_checkpoints_and_the_resumed_run_ends_the_same(
    signum, status, reference, tmp_path, monkeypatch
):
    out = tmp_path / "run"
    # The default handler, or SIG_IGN where the suite runs in the background (`cmd &`).
    before = signal.getsignal(signal.SIGINT)
    with monkeypatch.context() as patch:
        _interrupt_at(patch, 52, signum)  # inside the second epoch
        code, stdout, err = run("train", *TRAIN, "--out", out)
    name = signal.Signals(signum).name
    assert code == status
    assert err.splitlines() == [
        f"seq2seq train: interrupted by {name} at epoch 2, step 12; checkpoint saved; "
        f"resume with: seq2seq train --resume {out}"
    ]
    assert RunFolder(out).checkpoint_paths()[-1].name == "step-000000052.npz"
    assert not (out / "model.keras").exists()
    assert signal.getsignal(signal.SIGINT) is before  # handlers restored
    code, stdout, err = run("train", "--resume", out)
    assert code == 0, err
    assert f"Resuming {out} at epoch 2, step 12 (checkpoint step-000000052.npz)" in stdout
    _assert_same_run(out, reference)


def test_resuming_a_finished_run_says_so(reference):
    before = (reference / "metrics.json").read_text()
    code, stdout, err = run("train", "--resume", reference)
    assert code == 0 and err == ""
    assert (
        stdout == f"{reference}: the run has finished already (metrics.json); nothing to resume\n"
    )
    assert (reference / "metrics.json").read_text() == before


@backend_independent
def test_a_run_killed_before_its_first_checkpoint_starts_again(reference, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.toml").write_text((reference / "config.toml").read_text())
    (out / "checkpoints").mkdir()
    (out / "checkpoints" / ".tmp-abc-step-000000007.npz").write_bytes(b"PK\x03")  # a torn write
    code, stdout, err = run("train", "--resume", out)
    assert code == 0, err
    assert stdout.startswith(
        f"{out}: no checkpoint yet; starting the run again from its config.toml\n"
    )
    assert not (out / "checkpoints" / ".tmp-abc-step-000000007.npz").exists()
    # config.toml records `out`; the run goes to the folder given to --resume.
    assert load_config(out / "config.toml")["out"] == str(reference)
    _assert_same_run(out, reference)


@backend_independent
def test_a_corrupt_last_checkpoint_falls_back_to_the_one_before(reference, tmp_path, monkeypatch):
    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        _interrupt_at(patch, 30, signal.SIGINT)
        assert run("train", *TRAIN, "--out", out)[0] == 130
    paths = RunFolder(out).checkpoint_paths()
    assert [p.name for p in paths] == ["step-000000028.npz", "step-000000030.npz"]
    paths[-1].write_bytes(paths[-1].read_bytes()[:1000])  # truncated by a failing disk
    code, stdout, err = run("train", "--resume", out)
    assert code == 0, err
    assert err.startswith(f"warning: {paths[-1]}: not a readable checkpoint (")
    assert err.rstrip().endswith("; using the checkpoint before it")
    assert "Resuming" in stdout and "at epoch 1, step 28 (checkpoint step-000000028.npz)" in stdout
    assert (out / "checkpoints" / "step-000000030.npz.corrupt").exists()
    _assert_same_run(out, reference)


def test_an_infinite_loss_stops_at_once_with_exit_3(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((200, 5, 2), dtype=np.float32)
    y = rng.random((200, 3, 2), dtype=np.float32)
    y[150] = 3e20  # finite, but its square overflows float32: the loss turns infinite
    np.savez(tmp_path / "series.npz", x=x, y=y)
    out = tmp_path / "run"
    code, stdout, err = run(
        "train", tmp_path / "series.npz", "--hidden", "8", "--batch-size", "10",
        "--checkpoint-every", "1", "--out", out,
    )  # fmt: skip
    assert code == 3
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("seq2seq train: error: the loss at step ")
    step = int(lines[0].split("the loss at step ")[1].split()[0])
    assert lines[0].endswith(
        f"of epoch 1 is inf; training stopped, the last good checkpoint (epoch 1, step "
        f"{step - 1}) is in {out / 'checkpoints'}"
    )
    # The example's batch: its position in the first epoch's order, over 10 per step.
    from seq2seq.training.checkpoint import epoch_order

    train_rows = np.random.default_rng(0).permutation(200)[:160]  # the file's split
    position = int(np.flatnonzero(train_rows[epoch_order(160, 0, 0)] == 150)[0])
    assert step == position // 10 + 1
    checkpoints = RunFolder(out).checkpoint_paths()
    assert checkpoints[-1].name == f"step-{step - 1:09d}.npz"
    last = Checkpoint.load(checkpoints[-1])
    assert all(np.isfinite(array).all() for array in last.arrays["model"])
    assert not (out / "model.keras").exists() and not (out / "metrics.json").exists()


def test_a_new_run_refuses_a_folder_that_holds_one(reference, tmp_path):
    code, stdout, err = run("train", *TRAIN, "--out", reference)
    assert code == 2 and stdout == ""
    assert err == (
        f"seq2seq train: error: {reference} holds a finished run; continue it with "
        f"`seq2seq train --resume {reference}`, or give --overwrite to replace it, or another --out\n"
    )


@backend_independent
def test_overwrite_replaces_an_earlier_run(reference, tmp_path):
    out = tmp_path / "run"
    code, _, err = run("train", *TRAIN, "--epochs", "1", "--out", out)
    assert code == 0, err
    code, _, err = run("train", *TRAIN, "--out", out, "--overwrite")
    assert code == 0, err
    _assert_same_run(out, reference)


def test_resume_takes_no_other_settings(reference):
    code, stdout, err = run("train", "--resume", reference, "--epochs", "9")
    assert code == 2
    assert err == (
        f"seq2seq train: error: --resume takes the settings of {reference / 'config.toml'}; "
        "remove --epochs\n"
    )


# A child process: `seq2seq train` where, with SLOW_SAVE=path, the checkpoint write at
# step SLOW_STEP stalls after its data is written (before the rename) and says so in a file.
CHILD = """
import os, sys, time
marker, slow_step = os.environ.get("SLOW_SAVE"), int(os.environ.get("SLOW_STEP", "0"))
if marker:
    from seq2seq.training import checkpoint
    save = checkpoint.Checkpoint.save
    def stalled(self, path):
        if self.global_step != slow_step:
            return save(self, path)
        real = checkpoint.np.savez
        def write_then_stall(handle, **arrays):
            real(handle, **arrays)
            handle.flush()
            open(marker, "w").close()
            time.sleep(60)
        checkpoint.np.savez = write_then_stall
        return save(self, path)
    checkpoint.Checkpoint.save = stalled
from seq2seq.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _every_file_loads(out):
    """Each file of the run folder (temporary files aside) is complete and loads."""
    import matplotlib.image

    for path in sorted(out.rglob("*")):
        if path.is_dir() or path.name.startswith(".tmp-"):
            continue
        if path.name == "config.toml":
            load_config(path)
        elif path.name == "history.csv":
            with open(path, newline="") as handle:
                rows = list(csv.DictReader(handle))
            assert [int(row["epoch"]) for row in rows] == list(range(len(rows)))
        elif path.suffix == ".npz":
            Checkpoint.load(path)
        elif path.suffix == ".keras":
            keras.saving.load_model(path, compile=False)
        elif path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".png":
            assert matplotlib.image.imread(path).size > 0
        else:
            raise AssertionError(f"unexpected file {path}")


def _start(args, env):
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, "train", *map(str, args)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def _wait_for(condition, process, timeout=120):
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            return False
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(0.005)
    return True


# One process per kill costs seconds of start-up each; the signal tests above cover the
# resume on every backend.
@backend_independent
def test_sigkill_at_random_points_then_resume_ends_as_never_interrupted(reference, tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    rng = np.random.default_rng(7)
    folder = RunFolder(out)

    # Kill 1: while the checkpoint of step 21 is being written (data written, not renamed).
    marker = tmp_path / "stalled"
    process = _start([*TRAIN, "--out", out], {**env, "SLOW_SAVE": str(marker), "SLOW_STEP": "21"})
    assert _wait_for(marker.exists, process), process.communicate()[1].decode()[-2000:]
    process.send_signal(signal.SIGKILL)
    process.wait()
    torn = list(folder.checkpoints.glob(".tmp-*"))
    assert len(torn) == 1 and torn[0].stat().st_size > 0  # the write was under way
    assert [p.name for p in folder.checkpoint_paths()] == [
        "step-000000007.npz",
        "step-000000014.npz",
    ]
    _every_file_loads(out)

    # Kills 2-6: at random moments after the run has made progress since its resume.
    kills = 1
    while True:
        before = folder.checkpoint_paths()[-1].name if folder.checkpoint_paths() else ""
        process = _start(["--resume", out], env)
        progressed = _wait_for(
            lambda before=before: (
                folder.checkpoint_paths() and folder.checkpoint_paths()[-1].name != before
            ),
            process,
        )
        if kills < 6 and progressed:
            time.sleep(rng.uniform(0.0, 0.05))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait()
                kills += 1
                _every_file_loads(out)
                continue
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr.decode()[-2000:]
        if (out / "metrics.json").exists():
            break
    assert kills >= 6
    _every_file_loads(out)
    _assert_same_run(out, reference)
