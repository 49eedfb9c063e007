"""train -> predict -> evaluate with subword vocabularies, at tiny sizes."""

import json
import subprocess
import sys

import numpy as np
from cli_helpers import run
from helpers import backend_independent

from seq2seq.commands.inference import load_model
from seq2seq.data.subword_vocabulary import SubwordVocabulary
from seq2seq.data.vocabulary import Vocabulary

WORDS = ("lower", "lowest", "newer", "newest", "wider", "widest")

pytestmark = backend_independent


def test_subword_source_char_target_trains_and_predicts(tmp_path):
    rng = np.random.default_rng(0)
    lines = []
    for _ in range(80):
        words = list(rng.choice(WORDS, size=2))
        lines.append(" ".join(words) + "\t" + " ".join(reversed(words)))
    data = tmp_path / "pairs.tsv"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "run"
    code, printed, err = run(
        "train", data, "--source-level", "subword", "--target-level", "word", "--vocab-size",
        "20", "--model", "seq2seq", "--hidden", "8", "--embedding-dim", "4", "--epochs", "1",
        "--out", out,
    )  # fmt: skip
    assert code == 0, err
    assert "vocab_size = 20" in (out / "config.toml").read_text()
    model = load_model(out / "model.keras")
    assert isinstance(model.source_vocabulary, SubwordVocabulary)
    assert isinstance(model.target_vocabulary, Vocabulary)
    assert len(model.source_vocabulary) <= 20
    assert json.loads((out / "metrics.json").read_text())["level"] == "word"

    code, printed, err = run("predict", out / "model.keras", "lowest wider")
    assert code == 0, err
    assert printed.strip()  # one prediction, whatever a 1-epoch model says


def test_subword_target_scores_and_decodes_text(tmp_path):
    rng = np.random.default_rng(1)
    lines = [f"{w}\t{w} {w}" for w in rng.choice(WORDS, size=60)]
    data = tmp_path / "pairs.tsv"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "run"
    code, _, err = run(
        "train", data, "--level", "subword", "--vocab-size", "16", "--model", "seq2seq",
        "--hidden", "8", "--embedding-dim", "4", "--epochs", "1", "--out", out,
    )  # fmt: skip
    assert code == 0, err
    report = json.loads((out / "metrics.json").read_text())
    assert report["level"] == "subword" and "token_error_rate" in report["metrics"]
    code, printed, err = run("evaluate", out / "model.keras", data)
    assert code == 0, err
    # A fresh process, which has imported nothing of training, loads the tokenizer.
    predict = [sys.executable, "-m", "seq2seq", "predict", str(out / "model.keras"), "lower"]
    done = subprocess.run(predict, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("\n") == 1
