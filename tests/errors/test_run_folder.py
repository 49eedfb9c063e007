"""docs/errors.md, "Run folders and resume": `--out`, `--resume`, full disks, a diverging
loss, a batch larger than the data, a config file of a newer version."""

import errno
import os

import numpy as np
import pytest
from catalogue import expect, expect_cli, message_of, run
from helpers import backend_independent

from seq2seq.config import ConfigError, load_config
from seq2seq.models.base import Seq2SeqModel
from seq2seq.training import checkpoint

# Entries that need a training run are checked on JAX only (`backend_independent`): the
# messages do not depend on the backend, and each run costs a compilation.

TRAIN = ["--hidden", "4", "--embedding-dim", "4", "--epochs", "1", "--batch-size", "8"]


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # 40 distinct sources: the lines of a repeated source would stay in one split.
    words = ("abc", "hello", "dog", "kite", "sun") * 8
    lines = [f"{word}{'x' * (i // 5)}\t{word[::-1]}" for i, word in enumerate(words)]
    (tmp_path / "pairs.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _error_during_training(args, status=2):
    """The one-line error of a run stopped during training (its progress is on stdout)."""
    code, out, err = run("train", *args)
    assert code == status, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("seq2seq train: error: "), err
    return lines[0][len("seq2seq train: error: ") :]


def test_out_cannot_be_written(tmp_path):
    (tmp_path / "notes.txt").write_text("a file\n")
    expect_cli("E80", "train", "pairs.tsv", *TRAIN, "--out", "notes.txt/run")
    expect_cli("E81", "train", "pairs.tsv", *TRAIN, "--out", "notes.txt")


@backend_independent
def test_a_folder_that_holds_a_run():
    assert run("train", "pairs.tsv", *TRAIN, "--out", "run")[0] == 0
    expect_cli("E82", "train", "pairs.tsv", *TRAIN, "--out", "run")
    expect_cli("E83", "train", "--resume", "run", "--epochs", "3")


def test_resume_on_what_is_not_a_run(tmp_path):
    expect_cli("E84", "train", "--resume", "nothing")
    (tmp_path / "data").mkdir()
    expect_cli("E85", "train", "--resume", "data")


@backend_independent
def test_resume_messages_that_are_not_errors(tmp_path):
    assert run("train", "pairs.tsv", *TRAIN, "--out", "run", "--checkpoint-every", "2")[0] == 0
    code, out, err = run("train", "--resume", "run")
    assert (code, err) == (0, "")
    expect("E88", out.strip())
    (tmp_path / "run" / "metrics.json").unlink()  # as if killed while writing the results
    for path in (tmp_path / "run" / "checkpoints").iterdir():
        path.unlink()  # and before the first checkpoint
    code, out, err = run("train", "--resume", "run")
    assert code == 0, err
    expect("E86", out.splitlines()[0])


@backend_independent
def test_a_corrupt_checkpoint_is_skipped(tmp_path):
    assert run("train", "pairs.tsv", *TRAIN, "--out", "run", "--checkpoint-every", "2")[0] == 0
    (tmp_path / "run" / "metrics.json").unlink()
    newest = sorted((tmp_path / "run" / "checkpoints").iterdir())[-1]
    newest.write_bytes(b"PK\x03\x04 torn")
    code, out, err = run("train", "--resume", "run")
    assert code == 0, err
    expect("E87", err.strip())


@backend_independent
def test_resume_after_the_data_changed(tmp_path):
    assert run("train", "pairs.tsv", *TRAIN, "--out", "run", "--epochs", "2")[0] == 0
    (tmp_path / "run" / "metrics.json").unlink()
    lines = (tmp_path / "pairs.tsv").read_text().splitlines()
    (tmp_path / "pairs.tsv").write_text("\n".join(lines[:30]) + "\n")
    expect_cli("E89", "train", "--resume", "run")


@backend_independent
def test_a_full_disk_during_a_checkpoint(monkeypatch):
    monkeypatch.setattr(checkpoint.np, "savez", _full_disk)
    expect("E90", _error_during_training(["pairs.tsv", *TRAIN, "--out", "run"]))
    assert [p.name for p in (os.scandir("run/checkpoints"))] == []  # nothing torn left


@backend_independent
def test_a_full_disk_while_saving_the_model(tmp_path, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(Seq2SeqModel, "save", _full_disk)
        expect("E91", _error_during_training(["pairs.tsv", *TRAIN, "--out", "run"]))
    assert not (tmp_path / "run" / "model.keras").exists()
    code, out, err = run("train", "--resume", "run")  # the run is finished from its checkpoint
    assert code == 0, err
    assert (tmp_path / "run" / "model.keras").exists() and (
        tmp_path / "run" / "metrics.json"
    ).exists()


@backend_independent
def test_a_diverging_loss_exits_3(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.random((60, 4, 2), dtype=np.float32), rng.random((60, 3, 2), dtype=np.float32)
    y[:] = 3e20  # its square overflows float32
    np.savez("series.npz", x=x, y=y)
    args = ["series.npz", "--hidden", "4", "--batch-size", "8", "--out", "run"]
    expect("E92", _error_during_training(args, status=3))


@backend_independent
def test_a_batch_larger_than_the_data_is_a_warning():
    code, out, err = run("train", "pairs.tsv", *TRAIN, "--batch-size", "64", "--out", "run")
    assert code == 0
    expect("E93", err.strip())


def test_a_config_from_a_newer_version(tmp_path):
    (tmp_path / "new.toml").write_text('seq2seq_version = "0.3.0"\ntask = "dates"\nwarmup = 4\n')
    expect_cli("E94", "train", "--config", "new.toml")
    expect("E94", message_of(ConfigError, lambda: load_config("new.toml")))
