"""`TextPredictor`: checks requests and decodes batches of texts with `model.generate`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from seq2seq.commands import inference
from seq2seq.conventions import LEVEL_UNITS
from seq2seq.data.vocabulary import END_ID, END_TOKEN, PAD_ID, RESERVED_TOKENS
from seq2seq.serving.errors import RequestError
from seq2seq.serving.limits import ServingLimits

MIN_WIDTH = 8
MAX_LISTED = 10
WEIGHT_DECIMALS = 4
COMPILING_BACKENDS = ("jax", "tensorflow")


def bucket(size: int, low: int, high: int) -> int:
    """The smallest power of two `>= size`, within `[low, high]`: few shapes to compile."""
    return min(high, max(low, 1 << (max(size, 1) - 1).bit_length()))


class TextPredictor:
    """The model side of `seq2seq serve`: request checks, then batched decoding.

    Inputs are checked before they queue (`check`), so a batch never fails
    for one user's input. A batch (`predict`) is encoded with the model's source
    vocabulary, padded to a power-of-two width and to a power-of-two row count
    or `max_batch` rows (see `pad_rows`) — masked padding does not change the
    outputs, and few shapes keep compiled functions few — and decoded by one
    `model.generate` call.

    Args:
        model: A text model (token input and output with vocabularies), as
            `seq2seq.commands.inference.load_model` returns.
        limits: The `ServingLimits`.
        default_beam: The beam width of requests that give none.
        length_penalty: Beam search's length penalty exponent.
        pad_rows: Fill every batch up to `max_batch` rows, so that one compiled
            function per input width serves all batches (a full batch costs about
            what one row does there). Default: on the backends that compile per
            shape (JAX, TensorFlow); PyTorch pads to the next power of two.

    Example:

    >>> from seq2seq.serving.predictor import TextPredictor
    >>> predictor = TextPredictor(model)  # doctest: +SKIP
    >>> predictor.predict(["abc"], beam=1)[0]["output"]  # doctest: +SKIP
    'cba'
    """

    def __init__(
        self,
        model: keras.Model,
        limits: ServingLimits | None = None,
        default_beam: int = 1,
        length_penalty: float = 0.0,
        pad_rows: bool | None = None,
    ):
        if not inference.is_text_model(model):
            raise ValueError(
                "Invalid value for argument `model`. Expected a text model (token input and "
                f"output with vocabularies). Received: a {type(model).__name__} without them"
            )
        limits = limits or ServingLimits()
        if not 1 <= default_beam <= limits.max_beam:
            raise ValueError(
                f"Invalid value for argument `default_beam`. Expected 1 to {limits.max_beam}. "
                f"Received: default_beam={default_beam!r}"
            )
        self.model = model
        self.limits = limits
        self.default_beam = default_beam
        self.length_penalty = length_penalty
        if pad_rows is None:
            pad_rows = keras.backend.backend() in COMPILING_BACKENDS
        self.pad_rows = pad_rows
        self.has_attention = hasattr(model, "predict_attention")
        self.level = model.source_vocabulary.level
        # A model built for a fixed input length reads exactly that many ids, end id included.
        self.fixed_width = model.input_length
        self.max_input_length = limits.max_input_length
        if self.fixed_width is not None:
            self.max_input_length = min(self.max_input_length, self.fixed_width - 1)

    def describe(self) -> dict[str, Any]:
        """What clients may send: the model, its level and the limits."""
        return {
            "model": type(self.model).__name__,
            "level": self.level,
            "attention": self.has_attention,
            "default_beam": self.default_beam,
            "max_beam": self.limits.max_beam,
            "max_inputs": self.limits.max_inputs,
            "max_input_length": self.max_input_length,
            "max_batch": self.limits.max_batch,
        }

    def check(self, inputs: Sequence[str], beam: int, attention: bool) -> None:
        """Raises `RequestError` (413 or 422, with a message) unless the request can be decoded."""
        limits = self.limits
        if not inputs:
            raise RequestError(
                f"`inputs` is empty. Expected 1 to {limits.max_inputs} strings. Received: []"
            )
        if len(inputs) > limits.max_inputs:
            raise RequestError(
                f"Too many inputs. Expected at most {limits.max_inputs} per request. "
                f"Received: {len(inputs)}",
                status_code=413,
            )
        if not 1 <= beam <= limits.max_beam:
            raise RequestError(
                f"Invalid value for `beam`. Expected 1 to {limits.max_beam}. Received: beam={beam}"
            )
        if attention and not self.has_attention:
            raise RequestError(
                f"`attention` is not available: {type(self.model).__name__} has no attention. "
                "Received: attention=true"
            )
        vocabulary = self.model.source_vocabulary
        unit = LEVEL_UNITS[self.level]
        for index, text in enumerate(inputs):
            tokens = vocabulary.tokenize(text)
            if not tokens:
                raise RequestError(
                    f"inputs[{index}] is empty. Expected at least one {unit}. Received: {text!r}"
                )
            if len(tokens) > self.max_input_length:
                raise RequestError(
                    f"inputs[{index}] is too long. Expected at most {self.max_input_length} "
                    f"{unit}s. Received: {len(tokens)} {unit}s"
                )
            unknown = sorted({t for t in tokens if t not in vocabulary or t in RESERVED_TOKENS})
            if unknown:
                shown = ", ".join(json.dumps(t) for t in unknown[:MAX_LISTED])
                more = f" and {len(unknown) - MAX_LISTED} more" if len(unknown) > MAX_LISTED else ""
                raise RequestError(
                    f"inputs[{index}] has {unit}s the model does not know: {shown}{more}"
                )

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Source ids `(rows, width)`: the texts, then copies of the first to fill the rows."""
        longest = max(len(self.model.source_vocabulary.tokenize(text)) for text in texts)
        width = self.fixed_width or bucket(longest + 1, MIN_WIDTH, self.max_input_length + 1)
        x = self.model.source_vocabulary.encode(list(texts), max_length=width)
        rows = (
            self.limits.max_batch if self.pad_rows else bucket(len(texts), 1, self.limits.max_batch)
        )
        if rows > len(texts):
            x = np.concatenate([x, np.repeat(x[:1], rows - len(texts), axis=0)])
        return x  # (rows, width)

    def predict(
        self, texts: Sequence[str], beam: int, attention: bool = False
    ) -> list[dict[str, Any]]:
        """Decodes checked texts (at most `max_batch`) in one `model.generate` call.

        Returns:
            One dict per text: `output` (the predicted string) and, with
            `attention`, `alignment`: `source` and `output` tokens (end token
            included) and `weights`, one row per output token.
        """
        x = self.encode(texts)
        result = self.model.generate(
            x,
            strategy="beam" if beam > 1 else "greedy",
            beam_width=beam,
            length_penalty=self.length_penalty,
            batch_size=len(x),
            return_text=True,
        )
        answers = [{"output": text} for text in result["text"][: len(texts)]]
        if attention:
            for answer, text, ids, weights in zip(
                answers, texts, result["ids"], result["attention"]
            ):
                answer["alignment"] = self.alignment(text, ids, weights)
        return answers

    def alignment(self, text: str, ids: np.ndarray, weights: np.ndarray) -> dict[str, Any]:
        """The attention of one output (its ids) over its input, cut to their tokens."""
        source = self.model.source_vocabulary.tokenize(text) + [END_TOKEN]
        target = []
        for token_id in np.asarray(ids).tolist():
            if token_id == PAD_ID:
                break
            target.append(self.model.target_vocabulary.id_to_token(token_id))
            if token_id == END_ID:
                break
        cut = np.round(
            np.asarray(weights, dtype="float64")[: len(target), : len(source)], WEIGHT_DECIMALS
        )
        return {"source": source, "output": target, "weights": cut.tolist()}
