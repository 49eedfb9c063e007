"""Base class of the decoding strategies: one batched `keras.ops.while_loop`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
from keras import ops

from seq2seq.conventions import END_ID, PAD_ID, START_ID

NEG_INF = -1e9

# next_fn(prev_ids, cache, index) -> (logits, new cache, attention weights or None): a
# model's `generation_step`, or any function of that contract.
NextFn = Callable[[Any, Any, Any], tuple[Any, Any, Any]]


def tile(structure: Any, times: int) -> Any:
    """Repeats every tensor of a nested structure `times` times along axis 0 (batch-major)."""
    if times == 1:
        return structure
    return keras.tree.map_structure(lambda t: ops.repeat(t, times, axis=0), structure)


def batch_size_of(structure: Any) -> int:
    """The leading dimension of the first tensor in a nested structure."""
    return keras.tree.flatten(structure)[0].shape[0]


def mask_reserved(logits: Any) -> Any:
    """Sets the logits of the padding and start ids to a large negative value: never generated."""
    token_ids = ops.arange(logits.shape[-1], dtype="int32")
    reserved = ops.logical_or(ops.equal(token_ids, PAD_ID), ops.equal(token_ids, START_ID))
    return ops.where(reserved[None, :], ops.full_like(logits, NEG_INF), logits)


def write_step(buffer: Any, index: Any, values: Any) -> Any:
    """Writes `values` `(batch, ...)` at position `index` of axis 1 of `buffer` `(batch, length, ...)`."""
    positions = ops.equal(ops.arange(buffer.shape[1], dtype="int32"), index)
    positions = ops.reshape(positions, (1, buffer.shape[1]) + (1,) * (len(buffer.shape) - 2))
    return ops.where(positions, ops.expand_dims(values, 1), buffer)


def split_cache(cache: dict) -> tuple[Any, Any, Any]:
    """`(states, constants, shared)` of a cache; the last two default to empty dicts."""
    return cache["states"], cache.get("constants", {}), cache.get("shared", {})


class Sampler:
    """Base class of the decoding strategies, after keras-hub's samplers.

    A sampler never sees a model: it is given a step function `next_fn` and its
    cache (a model's `generation_step` and `generation_cache`), the contract of
    keras-hub's samplers. It runs the steps inside one `keras.ops.while_loop`
    (traced once, no Python loop per step on JAX and TensorFlow graphs) over a
    whole batch. Step 0 is fed the start id; each later step is fed the token the
    previous step chose. A sequence stops at its end id (or after `max_length`
    steps) and is padded with id 0 after it; the loop ends when every sequence of
    the batch has ended. Padding and start ids are never generated.

    Subclasses choose the next token in `get_next_token`; `BeamSampler` replaces
    the whole loop.

    Call arguments:
        next_fn: `next_fn(prev_ids, cache, index)` returns
            `(logits, new_cache, weights)`: logits `(batch, vocab)`, the cache with
            its new `states` (same structure), attention weights `(batch, in_len)` or
            None.
        cache: Dict of `states` (nested `(batch, ...)` tensors carried between
            steps), optionally `constants` (nested `(batch, ...)` tensors read by
            every step: encoder memory, attention keys, mask) and `shared` (tensors
            without a batch axis). Only `states` change from step to step.
        max_length: Number of steps at most.
        attention_length: Input length when `next_fn` returns attention weights.
        seed: The `(2,)` seed state of random strategies; default `initial_seed()`.

    Returns:
        Dict of tensors: `ids` `(batch, max_length)` int32, `log_probs` `(batch,)`
        (sum of the model's log-probabilities of the emitted tokens, end id
        included) and, with `attention_length`, `attention`
        `(batch, max_length, in_len)` (zero rows after the end).

    Example:
    >>> import numpy as np
    >>> from keras import ops
    >>> from seq2seq.decoding import GreedySampler
    >>> logits = np.log(np.array([[0.0, 0.0, 0.1, 0.2, 0.7]], "float32") + 1e-9)
    >>> def next_fn(prev, cache, index):
    ...     # Always prefers id 4 until step 2, then the end id.
    ...     end = ops.cast(ops.equal(index, 2), "float32") * 100.0
    ...     return ops.convert_to_tensor(logits) + ops.one_hot(ops.array([2]), 5) * end, cache, None
    >>> out = GreedySampler()(next_fn, {"states": [ops.zeros((1, 1))]}, max_length=5)
    >>> ops.convert_to_numpy(out["ids"]).tolist()
    [[4, 4, 2, 0, 0]]
    """

    # Whether `get_next_token` draws random numbers (then TensorFlow compiles the loop as a
    # graph without XLA, whose random ops would draw other numbers for the same seed).
    draws_random = False

    def initial_seed(self) -> np.ndarray:
        """The `(2,)` seed state a call starts from when given none (unused by deterministic strategies)."""
        return np.zeros((2,), dtype="int32")

    def batch_seed(self, number: int, max_length: int) -> np.ndarray | None:
        """The seed state of the `number`-th batch of one `generate` call, or None for
        deterministic strategies (which draw nothing)."""
        return None

    def get_next_token(self, logits: Any, seed: Any) -> tuple[Any, Any]:
        """Chooses the next ids `(batch,)` from logits whose reserved ids are masked.

        Returns `(ids, new_seed)`.
        """
        raise NotImplementedError

    def __call__(
        self,
        next_fn: NextFn,
        cache: dict,
        max_length: int,
        attention_length: int | None = None,
        seed: Any = None,
    ) -> dict[str, Any]:
        states, constants, shared = split_cache(cache)
        batch = batch_size_of((states, constants))
        index = ops.convert_to_tensor(0, dtype="int32")
        prev = ops.full((batch,), START_ID, dtype="int32")
        ids = ops.zeros((batch, max_length), dtype="int32")
        log_probs = ops.zeros((batch,), dtype="float32")
        finished = ops.zeros((batch,), dtype="bool")
        attention = ops.zeros((batch, max_length, attention_length or 1), dtype="float32")
        seed = ops.convert_to_tensor(self.initial_seed() if seed is None else seed)

        def cond(index, prev, states, ids, log_probs, finished, attention, seed):
            return ops.logical_and(ops.less(index, max_length), ops.logical_not(ops.all(finished)))

        def body(index, prev, states, ids, log_probs, finished, attention, seed):
            step_cache = {"states": states, "constants": constants, "shared": shared}
            logits, step_cache, weights = next_fn(prev, step_cache, index)
            states = step_cache["states"]
            logits = ops.cast(logits, "float32")
            token, seed = self.get_next_token(mask_reserved(logits), seed)
            token = ops.where(finished, PAD_ID, ops.cast(token, "int32"))
            step_log_probs = ops.log_softmax(logits, axis=-1)
            chosen = ops.take_along_axis(step_log_probs, token[:, None], axis=1)[:, 0]
            log_probs = log_probs + ops.where(finished, 0.0, chosen)
            ids = write_step(ids, index, token)
            if attention_length is not None:
                alive = ops.cast(ops.logical_not(finished), "float32")[:, None]
                attention = write_step(attention, index, ops.cast(weights, "float32") * alive)
            finished = ops.logical_or(finished, ops.equal(token, END_ID))
            return index + 1, token, states, ids, log_probs, finished, attention, seed

        loop_vars = (index, prev, states, ids, log_probs, finished, attention, seed)
        _, _, _, ids, log_probs, _, attention, _ = ops.while_loop(cond, body, loop_vars)
        result = {"ids": ids, "log_probs": log_probs}
        if attention_length is not None:
            result["attention"] = attention
        return result

    def get_config(self) -> dict[str, Any]:
        return {}
