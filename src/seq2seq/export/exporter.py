"""`export_generation`: a model's whole inference as ONNX files or a TensorFlow SavedModel.

The exported graphs hold the encoder and the decoding loop (greedy search and beam
search, or the free-running outputs of a real-valued model) with the weights frozen
in, so a consumer runs them with `onnxruntime` or TensorFlow alone. Tracing always
runs on the TensorFlow backend: a model on another backend is saved to a temporary
`.keras` file (backend-independent) and exported by a child process with
`KERAS_BACKEND=tensorflow` and `SEQ2SEQ_NATIVE=0`, so neither the JAX fast path nor the
native kernels are ever traced. ONNX goes through tf2onnx, which converts the layers'
TensorFlow loops (`seq2seq.layers.fused.tf_rnn.scan`) to ONNX `Loop`s.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from typing import Any

import keras

from seq2seq import conventions
from seq2seq.arguments import check_positive
from seq2seq.decoding import check_max_length
from seq2seq.decoding.beam import check_length_penalty
from seq2seq.export import graph_decoding

FORMATS = ("onnx", "saved_model")
VOCABULARIES_FILE = "vocabularies.json"
README_FILE = "README.txt"
ONNX_OPSET = 17
EXPORT_FORMAT_VERSION = 1


def export_generation(
    model: keras.Model,
    path: str | os.PathLike,
    format: str = "onnx",
    beam_width: int = 5,
    length_penalty: float = 0.0,
    max_length: int | None = None,
) -> list[str]:
    """Exports a seq2seq model's generation (encoder and decoding loop) for serving.

    Token models get a `greedy` graph and, with `beam_width > 1`, a `beam` graph;
    real-valued models a `predict` graph (the outputs of `model.predict`). Each takes
    `x`: int32 token ids `(batch, time)`, 0 for padding (or floats `(batch, time,
    input_dim)`), with any batch size and input length, and returns:

    - `greedy`: `ids` `(batch, max_length)` int32, the ids `model.generate` gives
      (end id included, 0 after it), `log_probs` `(batch,)` and, for attention
      models, `attention` `(batch, max_length, time)`.
    - `beam`: the best beam's `ids` and `log_probs`, and its normalised `scores`, as
      `model.generate(x, strategy="beam", beam_width=..., length_penalty=...)`.
    - `predict`: `outputs` `(batch, output_length, output_dim)` (and `attention`).

    `path` is a folder. Format `"onnx"` writes `greedy.onnx`, `beam.onnx` or
    `predict.onnx`; `"saved_model"` writes a SavedModel whose signatures have those
    names (`serving_default` is the first). Both add `vocabularies.json` (the source
    and target symbols, reserved ids, levels and the graphs' signatures) and a short
    `README.txt`.

    Args:
        model: A `Seq2SeqModel`, not stateful.
        path: The output folder (created; files of the same names are replaced).
        format: `"onnx"` or `"saved_model"`.
        beam_width: Beams of the `beam` graph; 1 exports no beam graph.
        length_penalty: GNMT length-normalisation exponent of the `beam` graph.
        max_length: Output steps (default `output_length`).

    Returns:
        The paths written.

    Example:
    >>> from seq2seq.export import export_generation
    >>> from seq2seq.models import AttentionSeq2Seq
    >>> model = AttentionSeq2Seq(input_vocab_size=8, output_vocab_size=8,
    ...                          input_length=None, output_length=5, hidden_dim=8)
    >>> export_generation(model, "exported", format="onnx")  # doctest: +SKIP
    ['exported/greedy.onnx', 'exported/beam.onnx', 'exported/vocabularies.json', ...]
    """
    if format not in FORMATS:
        raise ValueError(
            f"Invalid value for argument `format`. Expected one of {FORMATS}. "
            f"Received: format={format!r}"
        )
    check_positive("beam_width", beam_width)
    length_penalty = check_length_penalty(length_penalty)
    max_length = check_max_length(model, max_length)
    if getattr(model, "stateful", False):
        raise ValueError(
            "Invalid model. Expected a model with `stateful=False`: an exported graph "
            "carries no state between calls. Received a stateful model."
        )
    path = os.fspath(path)
    if keras.backend.backend() != "tensorflow":
        return _export_in_child(model, path, format, beam_width, length_penalty, max_length)
    os.makedirs(path, exist_ok=True)
    endpoints = _endpoints(model, max_length, beam_width, length_penalty)
    if format == "onnx":
        written = _write_onnx(model, endpoints, path)
    else:
        written = _write_saved_model(model, endpoints, path)
    return written + _write_description(
        model, list(endpoints), path, format, max_length, beam_width, length_penalty
    )


def _input_spec(model: keras.Model):
    import tensorflow as tf

    length = model.input_length
    if model.token_input:
        return tf.TensorSpec([None, length], tf.int32, name="x")
    return tf.TensorSpec([None, length, model.input_dim], tf.float32, name="x")


def _endpoints(
    model: keras.Model, max_length: int, beam_width: int, length_penalty: float
) -> dict[str, Callable]:
    """The graphs to export, by name: functions of one input tensor `x`."""
    if not model.token_mode:
        return {"predict": lambda x: graph_decoding.free_running(model, x, max_length)}
    endpoints = {"greedy": lambda x: graph_decoding.greedy_search(model, x, max_length)}
    if beam_width > 1:
        endpoints["beam"] = lambda x: graph_decoding.beam_search(
            model, x, max_length, beam_width, length_penalty
        )
    return endpoints


def _write_saved_model(model: keras.Model, endpoints: dict[str, Callable], path: str) -> list[str]:
    archive = keras.export.ExportArchive()
    archive.track(model)
    for name, fn in endpoints.items():
        archive.add_endpoint(name, fn, input_signature=[_input_spec(model)])
    archive.write_out(path, verbose=False)
    return [path]


def _write_onnx(model: keras.Model, endpoints: dict[str, Callable], path: str) -> list[str]:
    import tensorflow as tf
    import tf2onnx

    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    spec = [_input_spec(model)]
    written = []
    for name, fn in endpoints.items():
        target = os.path.join(path, f"{name}.onnx")
        function = tf.function(fn, input_signature=spec, autograph=False)
        tf2onnx.convert.from_function(
            function, input_signature=spec, opset=ONNX_OPSET, output_path=target
        )
        written.append(target)
    return written


def describe(
    model: keras.Model,
    endpoints: list[str],
    format: str,
    max_length: int,
    beam_width: int,
    length_penalty: float,
) -> dict[str, Any]:
    """The content of `vocabularies.json`: what a consumer needs besides the graphs."""

    def vocabulary(vocab):
        if vocab is None:
            return None
        entry = {
            "class": type(vocab).__name__,
            "symbols": list(vocab.symbols),
            "level": getattr(vocab, "level", None),
        }
        if type(vocab).__name__ != "Vocabulary":
            entry["config"] = vocab.get_config()  # e.g. a subword vocabulary's model
        return entry

    return {
        "format_version": EXPORT_FORMAT_VERSION,
        "format": format,
        "model": type(model).__name__,
        "source": vocabulary(model.source_vocabulary),
        "target": vocabulary(model.target_vocabulary),
        "reserved_ids": {
            "pad": conventions.PAD_ID,
            "start": conventions.START_ID,
            "end": conventions.END_ID,
            "unknown": conventions.UNK_ID,
        },
        "source_adds_end": True,
        "max_length": max_length,
        "graphs": endpoints,
        "beam_width": beam_width if "beam" in endpoints else None,
        "length_penalty": length_penalty if "beam" in endpoints else None,
        "input": {
            "name": "x",
            "dtype": "int32" if model.token_input else "float32",
            "shape": ["batch", model.input_length or "time"]
            + ([] if model.token_input else [model.input_dim]),
        },
    }


_README = """Exported by keras-seq2seq ({model}, format {format}); run with {runtime}.

Input `x`: {input}; any batch size and input length.{encoding}

Graphs ({where}):
{graphs}{decoding}"""

_ENCODING = """ Token ids come from the source
vocabulary in vocabularies.json: one id per symbol (characters at level "char",
whitespace-separated words at level "word"), unknown symbols -> {unk}, then the end id
{end}, then padding {pad} up to the longest row."""

_DECODING = """
Output ids: one row per input, {max_length} columns; a row ends at the end id {end} and
is padded with {pad} after it. Text: the target symbols of the ids before the end id,
joined with "" (level "char") or " " (level "word").
"""

_GRAPHS = {
    "greedy": "  greedy: ids (batch, {max_length}) int32, log_probs (batch,){attention}",
    "beam": "  beam: beam search, width {beam_width}, length penalty {length_penalty}: "
    "ids (batch, {max_length}) int32, log_probs (batch,), scores (batch,)",
    "predict": "  predict: outputs (batch, {max_length}, {output_dim}) float32{attention}",
}


def _write_description(
    model: keras.Model,
    endpoints: list[str],
    path: str,
    format: str,
    max_length: int,
    beam_width: int,
    length_penalty: float,
) -> list[str]:
    description = describe(model, endpoints, format, max_length, beam_width, length_penalty)
    vocabularies = os.path.join(path, VOCABULARIES_FILE)
    with open(vocabularies, "w", encoding="utf-8") as handle:
        json.dump(description, handle, ensure_ascii=False, indent=1)
        handle.write("\n")
    attention = f", attention (batch, {max_length}, time)" if model.has_attention else ""
    details = {
        "max_length": max_length,
        "beam_width": beam_width,
        "length_penalty": length_penalty,
        "output_dim": model.output_dim,
        "attention": attention,
    }
    ids = {"unk": conventions.UNK_ID, "end": conventions.END_ID, "pad": conventions.PAD_ID}
    shape = ", ".join(map(str, description["input"]["shape"]))
    readme = _README.format(
        model=type(model).__name__,
        format=format,
        runtime="onnxruntime" if format == "onnx" else "TensorFlow (tf.saved_model.load)",
        input=f"{description['input']['dtype']} ({shape})",
        encoding=_ENCODING.format(**ids) if model.token_input else "",
        where="one file NAME.onnx each" if format == "onnx" else "signatures of the SavedModel",
        graphs="".join(_GRAPHS[name].format(**details) + "\n" for name in endpoints),
        decoding=_DECODING.format(max_length=max_length, **ids) if model.token_mode else "",
    )
    readme_path = os.path.join(path, README_FILE)
    with open(readme_path, "w", encoding="utf-8") as handle:
        handle.write(readme)
    return [vocabularies, readme_path]


def _export_in_child(
    model: keras.Model,
    path: str,
    format: str,
    beam_width: int,
    length_penalty: float,
    max_length: int,
) -> list[str]:
    """Saves `model` to a temporary `.keras` file and exports it on TensorFlow in a child process."""
    with tempfile.TemporaryDirectory() as folder:
        model_path = os.path.join(folder, "model.keras")
        model.save(model_path)
        command = [
            sys.executable, "-m", "seq2seq.export.exporter", model_path, path,
            "--format", format, "--beam-width", str(beam_width),
            "--length-penalty", repr(length_penalty), "--max-length", str(max_length),
        ]  # fmt: skip
        env = {**os.environ, "KERAS_BACKEND": "tensorflow", "SEQ2SEQ_NATIVE": "0"}
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(
            f"Exporting on the TensorFlow backend failed (exit status {done.returncode}):\n"
            + done.stderr[-4000:]
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    """`python -m seq2seq.export.exporter MODEL OUT --format F ...`: the child process."""
    import argparse

    # The command line's loader: it also registers the vocabulary classes a model holds.
    from seq2seq.commands.inference import load_model

    parser = argparse.ArgumentParser(prog="python -m seq2seq.export.exporter")
    parser.add_argument("model")
    parser.add_argument("out")
    parser.add_argument("--format", default="onnx")
    parser.add_argument("--beam-width", type=int, default=5)
    parser.add_argument("--length-penalty", type=float, default=0.0)
    parser.add_argument("--max-length", type=int, default=None)
    args = parser.parse_args(argv)
    model = load_model(args.model)
    written = export_generation(
        model,
        args.out,
        format=args.format,
        beam_width=args.beam_width,
        length_penalty=args.length_penalty,
        max_length=args.max_length,
    )
    print(json.dumps(written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
