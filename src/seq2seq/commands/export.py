"""`seq2seq export`: a saved model's whole inference as ONNX files or a SavedModel."""

from __future__ import annotations

import os
import subprocess
import sys

import keras

from seq2seq.commands import inference
from seq2seq.commands.errors import CommandError

DEFAULT_BEAM = 5


def export(
    model_path: str,
    out: str,
    format: str = "onnx",
    beam: int | None = None,
    length_penalty: float | None = None,
    max_length: int | None = None,
) -> int:
    """Runs `seq2seq export` and prints the paths it wrote.

    The export traces on TensorFlow: on another backend the command runs again in a
    child process with `KERAS_BACKEND=tensorflow` (the `.keras` file is the same on
    every backend).

    Args:
        model_path: A `model.keras` written by `seq2seq train`.
        out: The output folder.
        format: `"onnx"` or `"saved_model"`.
        beam: Width of the exported beam search; 1 exports greedy decoding only.
            Default: the training run's `--beam` when above 1, else 5.
        length_penalty: Beam search's length penalty (default: the run's, else 0).
        max_length: Output steps (default: the model's `output_length`).

    Returns:
        The exit status.
    """
    if not os.path.isfile(model_path):
        raise CommandError(f"{model_path}: file not found")
    if keras.backend.backend() != "tensorflow":
        return _export_in_child(model_path, out, format, beam, length_penalty, max_length)
    from seq2seq.export import export_generation

    try:
        import tensorflow  # noqa: F401

        if format == "onnx":
            import tf2onnx  # noqa: F401
    except ImportError as error:
        raise CommandError(
            f"--format {format}: needs the export extra ({error.name} is missing): "
            'pip install "keras-seq2seq[export]"'
        ) from None
    model = inference.load_model(model_path)
    recorded = inference.recorded_settings(model_path)
    if beam is None:
        beam = int(recorded.get("beam") or 1)
        beam = beam if beam > 1 else DEFAULT_BEAM
    _, length_penalty = inference.decoding_settings(recorded, beam, length_penalty)
    if getattr(model, "stateful", False):
        raise CommandError(f"{model_path}: a stateful model cannot be exported")
    limit = model.max_generation_length
    if max_length is not None and limit is not None and max_length > limit:
        raise CommandError(
            f"--max-length: expected at most {limit} for {type(model).__name__} "
            f"(its output_length), received {max_length}"
        )
    written = export_generation(
        model,
        out,
        format=format,
        beam_width=beam,
        length_penalty=length_penalty,
        max_length=max_length,
    )
    for path in written:
        print(f"Wrote {path}")
    return 0


def _export_in_child(
    model_path: str,
    out: str,
    format: str,
    beam: int | None,
    length_penalty: float | None,
    max_length: int | None,
) -> int:
    """Runs the same command with `KERAS_BACKEND=tensorflow`; returns its exit status."""
    command = [sys.executable, "-m", "seq2seq", "export", model_path, "--out", out]
    command += ["--format", format]
    if beam is not None:
        command += ["--beam", str(beam)]
    if length_penalty is not None:
        command += ["--length-penalty", repr(length_penalty)]
    if max_length is not None:
        command += ["--max-length", str(max_length)]
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "SEQ2SEQ_NATIVE": "0"}
    return subprocess.run(command, env=env).returncode
