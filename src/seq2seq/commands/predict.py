"""`seq2seq predict`: one output line per input, from arguments, a file or standard input."""

from __future__ import annotations

import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from seq2seq.commands import inference
from seq2seq.commands.errors import CommandError
from seq2seq.data.errors import DataFileError

STDIN_NAME = "<stdin>"
MAX_PLOTTED = 8


def decode_lines(data: bytes, name: str) -> list[str]:
    """Splits UTF-8 bytes into lines (line ends removed; a final empty line dropped).

    Raises:
        DataFileError: A line is not valid UTF-8; the message names `name` and the line.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    texts = []
    for number, raw in enumerate(lines, start=1):
        try:
            texts.append(raw.decode("utf-8").rstrip("\r"))
        except UnicodeDecodeError as error:
            raise DataFileError(
                name,
                f"not valid UTF-8 (byte 0x{raw[error.start]:02x} at column {error.start + 1})",
                line=number,
            ) from None
    return texts


def read_texts(texts: Sequence[str], file: str | None) -> list[str]:
    """The inputs: the arguments, else the lines of `file`, else those of standard input."""
    if texts:
        return list(texts)
    if file is not None:
        try:
            return decode_lines(Path(file).read_bytes(), file)
        except FileNotFoundError:
            raise DataFileError(file, "file not found") from None
        except OSError as error:
            raise DataFileError(file, f"cannot be read ({error.strerror or error})") from None
    if sys.stdin.isatty():
        print("Reading inputs from standard input, one per line (Ctrl-D ends).", file=sys.stderr)
    return decode_lines(sys.stdin.buffer.read(), STDIN_NAME)


def read_inputs(file: str) -> np.ndarray:
    """Array `x` of an `.npz` file (array `y` is not needed)."""
    try:
        with np.load(file, allow_pickle=False) as archive:
            if "x" not in archive.files:
                raise DataFileError(file, f"missing array 'x' (found arrays: {archive.files})")
            x = archive["x"]
    except FileNotFoundError:
        raise DataFileError(file, "file not found") from None
    except (OSError, ValueError, zipfile.BadZipFile, AttributeError) as error:
        raise DataFileError(file, f"not a readable .npz archive ({error})") from None
    if x.ndim != 3 or not np.issubdtype(x.dtype, np.number):
        raise DataFileError(
            file, f"array 'x' must be numeric of rank 3, found shape {x.shape} ({x.dtype})"
        )
    return x.astype("float32")


def _format_values(values: np.ndarray) -> str:
    # One step per space-separated field, features within a step joined by commas.
    return " ".join(",".join(f"{v:.6g}" for v in step) for step in values)


def predict(
    model_path: str,
    texts: Sequence[str],
    file: str | None = None,
    beam: int | None = None,
    batch_size: int = inference.PREDICT_BATCH_SIZE,
    attention_path: str | None = None,
    length_penalty: float | None = None,
) -> int:
    """Runs `seq2seq predict` and prints one prediction per line.

    Text models read texts; real-valued models read array `x` of the `.npz`
    given with `--file` and print each output sequence on a line.

    Returns:
        The exit status, 0.
    """
    model = inference.load_model(model_path)
    if not inference.is_text_model(model):
        if texts or file is None or not file.lower().endswith(".npz"):
            raise CommandError(
                f"{model_path}: the model reads real-valued arrays; give them with --file X.npz"
            )
        x = read_inputs(file)
        if x.shape[-1] != model.input_dim:
            raise CommandError(
                f"{file}: array 'x' has {x.shape[-1]} features, the model expects {model.input_dim}"
            )
        relative = bool(inference.recorded_settings(model_path).get("relative"))
        for row in inference.predict_values(model, x, batch_size=batch_size, relative=relative):
            print(_format_values(row))
        return 0
    inputs = read_texts(texts, file)
    if not inputs:
        return 0
    if attention_path and not hasattr(model, "predict_attention"):
        raise CommandError(
            f"--attention: {type(model).__name__} has no attention; train with --model attention"
        )
    recorded = inference.recorded_settings(model_path)
    beam, length_penalty = inference.decoding_settings(recorded, beam, length_penalty)
    predictions, attention = inference.predict_texts(
        model,
        inputs,
        beam=beam,
        batch_size=batch_size,
        return_attention=bool(attention_path),
        length_penalty=length_penalty,
    )
    for prediction in predictions:
        print(prediction)
    if attention_path:
        shown = min(len(inputs), MAX_PLOTTED)
        inference.plot_alignments(
            model, inputs[:shown], predictions[:shown], attention, attention_path
        )
        which = f"the first {shown}" if shown < len(inputs) else str(shown)
        print(f"Wrote the attention of {which} inputs to {attention_path}", file=sys.stderr)
    return 0
