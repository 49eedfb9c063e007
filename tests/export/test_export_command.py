"""`seq2seq export` writes graphs that reproduce `seq2seq predict`, and reports mistakes on one line."""

import json
import os

import numpy as np
import pytest

from seq2seq.data.vocabulary import Vocabulary
from seq2seq.models import AttentionSeq2Seq
from tests.cli.cli_helpers import run
from tests.export.export_helpers import ONLY_TENSORFLOW, run_onnx

pytest.importorskip("onnxruntime")
pytest.importorskip("tf2onnx")
pytestmark = ONLY_TENSORFLOW


@pytest.fixture
def text_model(tmp_path):
    source = Vocabulary(list("abcdef"), level="char")
    target = Vocabulary(list("xyz"), level="char")
    model = AttentionSeq2Seq(
        input_vocab_size=len(source),
        output_vocab_size=len(target),
        input_length=None,
        output_length=5,
        hidden_dim=8,
        source_vocabulary=source,
        target_vocabulary=target,
        seed=2,
    )
    path = os.fspath(tmp_path / "model.keras")
    model.save(path)
    return model, path


def test_export_onnx_gives_the_ids_of_generate(text_model, tmp_path):
    model, path = text_model
    out = tmp_path / "exported"
    code, stdout, stderr = run("export", path, "--format", "onnx", "--out", out, "--beam", "1")
    assert code == 0, stderr
    assert sorted(os.listdir(out)) == ["README.txt", "greedy.onnx", "vocabularies.json"]
    assert f"Wrote {out / 'greedy.onnx'}" in stdout
    with open(out / "vocabularies.json", encoding="utf-8") as handle:
        description = json.load(handle)
    texts = ["abc", "fedcba", "e"]
    # A consumer's encoding, from vocabularies.json alone.
    index = {symbol: i for i, symbol in enumerate(description["source"]["symbols"])}
    end = description["reserved_ids"]["end"]
    width = max(map(len, texts)) + 1
    x = np.zeros((len(texts), width), dtype="int32")
    for row, text in enumerate(texts):
        x[row, : len(text) + 1] = [index[c] for c in text] + [end]
    np.testing.assert_array_equal(x, model.source_vocabulary.encode(texts))
    ids = run_onnx(os.fspath(out), "greedy", x)["ids"]
    np.testing.assert_array_equal(ids, model.generate(x)["ids"])


@pytest.mark.parametrize(
    "args, message",
    [
        (("missing.keras", "--out", "o"), "missing.keras: file not found"),
        (("{model}", "--out", "o", "--max-length", "0"), "--max-length"),
        (("{model}", "--out", "o", "--format", "tflite"), "--format"),
        (("{model}",), "--out"),
    ],
)
def test_mistakes_are_one_line(text_model, tmp_path, monkeypatch, args, message):
    _, path = text_model
    args = [arg.format(model=path) for arg in args]
    monkeypatch.chdir(tmp_path)
    code, _, stderr = run("export", *args)
    assert code == 2
    assert message in stderr
    assert len(stderr.strip().splitlines()) == 1
