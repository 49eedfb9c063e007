"""`generate`: batched decoding of a seq2seq model with a chosen strategy.

The model is used only through its generation contract (see `Seq2SeqModel`):
`generation_cache`, `generation_step`, `generation_outputs`, `max_generation_length`
and `has_attention`. The samplers see only the step function and its cache.
"""

from __future__ import annotations

import functools
from typing import Any

import keras
import numpy as np
from keras import ops

from seq2seq.arguments import (
    check_length_penalty,
    check_positive,
    check_seed,
    check_temperature,
    check_top_p,
)
from seq2seq.conventions import PAD_ID
from seq2seq.decoding.beam import BeamSampler
from seq2seq.decoding.compiled import cached_function
from seq2seq.decoding.greedy import GreedySampler
from seq2seq.decoding.random import RandomSampler
from seq2seq.decoding.sampler import Sampler

STRATEGIES = ("greedy", "beam", "random")


def make_sampler(
    strategy: str = "greedy",
    beam_width: int = 5,
    length_penalty: float = 0.0,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    return_all_beams: bool = False,
) -> Sampler:
    """Validates every decoding argument and returns the sampler for `strategy`.

    Arguments of the other strategies are checked too, so a typo never passes
    silently; each is used only by its strategy.
    """
    if strategy not in STRATEGIES:
        raise ValueError(
            f"Invalid value for argument `strategy`. Expected one of {STRATEGIES}. Received: strategy={strategy!r}"
        )
    check_positive("beam_width", beam_width)
    check_length_penalty(length_penalty)
    check_temperature(temperature)
    check_positive("top_k", top_k, allow_none=True)
    check_top_p(top_p)
    check_seed(seed)
    if strategy == "beam":
        return BeamSampler(beam_width, length_penalty, return_all_beams=return_all_beams)
    if strategy == "random":
        return RandomSampler(temperature, top_k, top_p, seed)
    return GreedySampler()


def generate(
    model: keras.Model,
    x: Any,
    strategy: str = "greedy",
    beam_width: int = 5,
    length_penalty: float = 0.0,
    max_length: int | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    batch_size: int = 256,
    return_text: bool = False,
    return_all_beams: bool = False,
    compiled: bool = True,
) -> dict[str, Any]:
    """Generates output sequences for `x`; see `Seq2SeqModel.generate`.

    Args:
        model: A `Seq2SeqModel`.
        x: Token ids `(batch, time)` (0 = padding) or real values `(batch, time, input_dim)`.
        strategy: `"greedy"`, `"beam"` or `"random"`.
        beam_width: Beams kept per input (`"beam"`).
        length_penalty: GNMT length-normalisation exponent (`"beam"`).
        max_length: Steps at most; default the model's `output_length`.
        temperature, top_k, top_p, seed: Random sampling (`"random"`).
        batch_size: Inputs decoded together; the last batch is filled up to this
            size so one compiled function serves every batch. Greedy and beam
            search batch token inputs by length, shortest first (the outputs come
            back in the inputs' order), so a batch's loop ends with its longest
            output; random sampling keeps the inputs' order. Stateful models use
            their own batch size, and generation leaves their carried states as
            they are.
        return_text: Also decode the ids with the model's `target_vocabulary`.
        return_all_beams: Also return every beam, best first (`"beam"`).
        compiled: False runs the generic (uncompiled) path.

    Returns:
        Dict of numpy arrays. Token models: `ids` `(batch, max_length)`,
        `log_probs` `(batch,)`, `attention` `(batch, max_length, in_len)` when
        the model has attention, `scores` and the `all_*` arrays for beam search,
        `text` (list of strings) with `return_text`. Real-valued models:
        `outputs` `(batch, max_length, output_dim)` and `attention`.

    Example:
    >>> import numpy as np
    >>> from seq2seq.decoding import generate
    >>> from seq2seq.models import Seq2Seq
    >>> model = Seq2Seq(input_vocab_size=8, output_vocab_size=8, input_length=None,
    ...                 output_length=5, hidden_dim=8)
    >>> generate(model, np.array([[4, 5, 2]]), strategy="beam", beam_width=2)["ids"].shape
    (1, 5)
    """
    sampler = make_sampler(
        strategy, beam_width, length_penalty, temperature, top_k, top_p, seed, return_all_beams
    )
    check_positive("batch_size", batch_size)
    max_length = check_max_length(model, max_length)
    _check_vocabularies(model)
    if return_text and (not model.token_mode or model.target_vocabulary is None):
        raise ValueError(
            "Invalid value for argument `return_text`. Expected False for a model without a "
            "`target_vocabulary` (token mode with `target_vocabulary=` given). Received: return_text=True"
        )
    x = _check_inputs(model, x)
    if model.token_mode:
        key = ("tokens", type(sampler).__name__, _config_key(sampler), max_length)
        build = functools.partial(_token_function, model, sampler, max_length)
    else:
        key = ("real", max_length)
        build = functools.partial(_real_function, model, max_length)
    fn = cached_function(model, key, build, compiled=compiled, xla=not sampler.draws_random)
    if model.stateful:
        batch_size = model.batch_size  # stateful layers hold states for exactly this many rows
    # Token inputs decoded shortest first where the order changes nothing else: a batch of
    # short inputs leaves the decoding loop sooner (its beams finish together). Random
    # sampling keeps the order its per-batch seeds go with, stateful models the one their
    # states carry over.
    shortest_first = (
        x.ndim == 2 and model.token_mode and not sampler.draws_random and not model.stateful
    )
    order = (
        np.argsort(np.count_nonzero(x != PAD_ID, axis=1), kind="stable") if shortest_first else None
    )
    result = _run_batches(fn, x if order is None else x[order], batch_size, sampler, max_length)
    if order is not None:
        back = np.argsort(order)
        result = {name: value[back] for name, value in result.items()}
    if return_text:
        result["text"] = model.target_vocabulary.decode(result["ids"])
    return result


def _config_key(sampler: Sampler) -> tuple:
    return tuple(sorted((k, v) for k, v in sampler.get_config().items() if k != "seed"))


def _token_function(model: keras.Model, sampler: Sampler, max_length: int):
    def run(x, seed):
        attention_length = x.shape[1] if model.has_attention else None
        cache = model.generation_cache(x)
        return sampler(model.generation_step, cache, max_length, attention_length, seed)

    return run


def _real_function(model: keras.Model, max_length: int):
    def run(x, seed):
        result = model.generation_outputs(x, max_length)
        return {name: value for name, value in result.items() if value is not None}

    return run


def _run_batches(
    fn, x: np.ndarray, batch_size: int, sampler: Sampler, max_length: int
) -> dict[str, Any]:
    count = len(x)
    size = min(batch_size, count)
    parts = []
    for number, start in enumerate(range(0, count, size)):
        chunk = x[start : start + size]
        rows = len(chunk)
        if rows < size:
            # Fill with copies of a real row: same shapes, so no recompilation, and they end like it.
            chunk = np.concatenate([chunk, np.repeat(chunk[:1], size - rows, axis=0)])
        seed = sampler.batch_seed(number, max_length)
        out = fn(
            ops.convert_to_tensor(chunk), None if seed is None else ops.convert_to_tensor(seed)
        )
        parts.append({name: ops.convert_to_numpy(value)[:rows] for name, value in out.items()})
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def check_max_length(model: keras.Model, max_length: Any) -> int:
    """The steps to generate: `max_length`, or the model's `output_length` when None.

    Raises a `ValueError` unless `max_length` is None or a positive int, at most the
    model's `max_generation_length` when it has one (`SimpleSeq2Seq`).
    """
    if max_length is None:
        return model.output_length
    check_positive("max_length", max_length)
    limit = model.max_generation_length
    if limit is not None and max_length > limit:
        raise ValueError(
            "Invalid value for argument `max_length`. Expected at most `output_length` "
            f"({limit}) for {type(model).__name__}, whose decoder has no feedback. "
            f"Received: max_length={max_length}"
        )
    return max_length


def _check_vocabularies(model: keras.Model) -> None:
    for vocabulary, size_name in (
        (model.source_vocabulary, "input_vocab_size"),
        (model.target_vocabulary, "output_vocab_size"),
    ):
        size = getattr(model, size_name)
        if vocabulary is not None and len(vocabulary) != size:
            name = "source_vocabulary" if size_name == "input_vocab_size" else "target_vocabulary"
            raise ValueError(
                f"Invalid model vocabulary `{name}`. Expected {size} symbols ({size_name}={size}). "
                f"Received: a vocabulary of {len(vocabulary)} symbols."
            )


def _check_inputs(model: keras.Model, x: Any) -> np.ndarray:
    x = np.asarray(ops.convert_to_numpy(x) if keras.ops.is_tensor(x) else x)
    if x.ndim == 0 or len(x) == 0:
        raise ValueError(
            f"Invalid input `x`. Expected a non-empty batch. Received shape {x.shape}."
        )
    model.check_data(x)
    if model.token_input:
        return x.astype("int32")
    return x.astype(model.compute_dtype if x.dtype.kind == "f" else "float32")
