"""`seq2seq train --stream` end to end, and the automatic switch above a size threshold."""

import json

import numpy as np
import pytest
from cli_helpers import run
from helpers import backend_independent

from seq2seq.commands import datasets
from seq2seq.commands.errors import CommandError
from seq2seq.commands.inference import load_model
from seq2seq.data.subword_vocabulary import SubwordVocabulary

WORDS = ("lower", "lowest", "newer", "newest", "wider", "widest")


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    rng = np.random.default_rng(0)
    lines = []
    for _ in range(300):
        words = list(rng.choice(WORDS, size=rng.integers(1, 4)))
        lines.append(" ".join(words) + "\t" + " ".join(reversed(words)))
    path = tmp_path_factory.mktemp("stream") / "pairs.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@backend_independent
def test_streamed_subword_run_trains_predicts_and_resumes(data_file, tmp_path):
    out = tmp_path / "run"
    code, printed, err = run(
        "train", data_file, "--stream", "--source-level", "subword", "--target-level", "word",
        "--vocab-size", "16", "--model", "seq2seq", "--hidden", "8", "--embedding-dim", "4",
        "--epochs", "1", "--batch-size", "16", "--out", out,
    )  # fmt: skip
    assert code == 0, err
    assert "stream = true" in (out / "config.toml").read_text()
    model = load_model(out / "model.keras")
    assert isinstance(model.source_vocabulary, SubwordVocabulary)
    report = json.loads((out / "metrics.json").read_text())
    assert report["examples"] > 0
    code, printed, err = run("predict", out / "model.keras", "lowest wider")
    assert code == 0 and printed.count("\n") == 1, err  # one prediction, maybe empty
    code, printed, err = run("train", "--resume", out)
    assert code == 0 and "nothing to resume" in printed, err


def test_a_large_file_is_streamed_automatically(data_file, monkeypatch, capsys):
    monkeypatch.setattr(datasets, "STREAM_THRESHOLD_BYTES", 100)
    assert datasets.should_stream(data_file, None) is True
    assert "streaming it from disk (--no-stream" in capsys.readouterr().out
    assert datasets.should_stream(data_file, False) is False
    monkeypatch.setattr(datasets, "STREAM_THRESHOLD_BYTES", 10**9)
    assert datasets.should_stream(data_file, None) is False


def test_stream_applies_to_text_files_only(tmp_path):
    with pytest.raises(CommandError, match="--stream applies to a text data file"):
        datasets.should_stream(tmp_path / "series.npz", True)
    with pytest.raises(CommandError, match="--stream applies to a text data file"):
        datasets.should_stream(None, True)
