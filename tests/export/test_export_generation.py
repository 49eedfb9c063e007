"""Exported graphs give the ids of `model.generate` and the values of `model.predict`."""

import json
import os

import numpy as np
import pytest

from seq2seq.data.vocabulary import Vocabulary
from seq2seq.export import export_generation
from seq2seq.models import AttentionSeq2Seq, Seq2Seq, SimpleSeq2Seq
from tests.export.export_helpers import ONLY_TENSORFLOW, RUNNERS

pytest.importorskip("onnxruntime")
pytest.importorskip("tf2onnx")
pytestmark = ONLY_TENSORFLOW

CLASSES = (SimpleSeq2Seq, Seq2Seq, AttentionSeq2Seq)
FORMATS = ("onnx", "saved_model")
VOCAB = 12
BEAM = 3
OUTPUT_LENGTH = 6


def token_inputs():
    """Two batches of other sizes and lengths, with padded rows."""
    rng = np.random.default_rng(0)
    first = rng.integers(4, VOCAB, size=(5, 6)).astype("int32")
    first[:, -1] = 2
    first[1, 3:] = 0  # a shorter row: end id, then padding
    first[1, 2] = 2
    second = rng.integers(4, VOCAB, size=(2, 9)).astype("int32")
    return first, second


def real_inputs():
    rng = np.random.default_rng(1)
    return (
        rng.normal(size=(4, 5, 3)).astype("float32"),
        rng.normal(size=(1, 8, 3)).astype("float32"),
    )


@pytest.fixture(scope="module", params=CLASSES, ids=lambda cls: cls.__name__)
def token_export(request, tmp_path_factory):
    model = request.param(
        input_vocab_size=VOCAB,
        output_vocab_size=VOCAB,
        input_length=None,
        output_length=OUTPUT_LENGTH,
        hidden_dim=8,
        seed=3,
    )
    folders = {}
    for format in FORMATS:
        folders[format] = os.fspath(tmp_path_factory.mktemp(f"{request.param.__name__}-{format}"))
        export_generation(model, folders[format], format=format, beam_width=BEAM)
    return model, folders


@pytest.fixture(scope="module", params=CLASSES, ids=lambda cls: cls.__name__)
def real_export(request, tmp_path_factory):
    model = request.param(
        input_dim=3, input_length=None, output_length=4, output_dim=2, hidden_dim=8, seed=5
    )
    folders = {}
    for format in FORMATS:
        folders[format] = os.fspath(tmp_path_factory.mktemp(f"{request.param.__name__}-{format}"))
        export_generation(model, folders[format], format=format)
    return model, folders


@pytest.mark.parametrize("format", FORMATS)
def test_greedy_ids_match_generate(token_export, format):
    model, folders = token_export
    for x in token_inputs():
        expected = model.generate(x)
        out = RUNNERS[format](folders[format], "greedy", x)
        np.testing.assert_array_equal(out["ids"], expected["ids"])
        np.testing.assert_allclose(out["log_probs"], expected["log_probs"], atol=1e-4)
        if model.has_attention:
            np.testing.assert_allclose(out["attention"], expected["attention"], atol=1e-5)


@pytest.mark.parametrize("format", FORMATS)
def test_beam_ids_match_generate(token_export, format):
    model, folders = token_export
    for x in token_inputs():
        expected = model.generate(x, strategy="beam", beam_width=BEAM)
        out = RUNNERS[format](folders[format], "beam", x)
        np.testing.assert_array_equal(out["ids"], expected["ids"])
        np.testing.assert_allclose(out["scores"], expected["scores"], atol=1e-4)


@pytest.mark.parametrize("format", FORMATS)
def test_real_values_match_predict(real_export, format):
    model, folders = real_export
    for x in real_inputs():
        out = RUNNERS[format](folders[format], "predict", x)
        np.testing.assert_allclose(out["outputs"], model.predict(x, verbose=0), atol=1e-5)


def test_vocabularies_file_describes_the_graphs(tmp_path):
    source = Vocabulary(list("abc"), level="char")
    target = Vocabulary(["x", "yy"], level="word")
    model = Seq2Seq(
        input_vocab_size=len(source),
        output_vocab_size=len(target),
        input_length=None,
        output_length=4,
        hidden_dim=8,
        source_vocabulary=source,
        target_vocabulary=target,
    )
    export_generation(model, tmp_path, format="saved_model", beam_width=1)
    with open(tmp_path / "vocabularies.json", encoding="utf-8") as handle:
        description = json.load(handle)
    assert description["source"]["symbols"] == source.symbols
    assert description["target"] == {
        "class": "Vocabulary",
        "symbols": target.symbols,
        "level": "word",
    }
    assert description["reserved_ids"] == {"pad": 0, "start": 1, "end": 2, "unknown": 3}
    assert description["graphs"] == ["greedy"]
    assert description["max_length"] == 4
    assert "greedy" in (tmp_path / "README.txt").read_text(encoding="utf-8")


def test_rejects_bad_arguments(tmp_path):
    model = SimpleSeq2Seq(
        input_vocab_size=VOCAB, output_vocab_size=VOCAB, input_length=None, output_length=3
    )
    with pytest.raises(ValueError, match="argument `format`"):
        export_generation(model, tmp_path, format="tflite")
    with pytest.raises(ValueError, match="argument `max_length`"):
        export_generation(model, tmp_path, max_length=4)
    with pytest.raises(ValueError, match="argument `beam_width`"):
        export_generation(model, tmp_path, beam_width=0)
    stateful = Seq2Seq(
        input_vocab_size=VOCAB, output_vocab_size=VOCAB, batch_input_shape=(2, 4),
        output_length=3, stateful=True,
    )  # fmt: skip
    with pytest.raises(ValueError, match="stateful"):
        export_generation(stateful, tmp_path)
