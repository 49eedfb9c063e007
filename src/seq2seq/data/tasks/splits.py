"""Helpers shared by the text tasks: unique example generation and splitting."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence

import numpy as np

SPLITS = ("train", "validation", "test")
HELD_OUT_FRACTION = 0.1

Pair = tuple[str, str]
# Hash buckets of `hash_split`: fractions are kept to 1 / HASH_BUCKETS.
HASH_BUCKETS = 10_000


def split_sizes(num_examples: int) -> tuple[int, int, int]:
    """Returns (train, validation, test) sizes: about 80%, 10% and 10%."""
    held_out = max(1, round(num_examples * HELD_OUT_FRACTION))
    return num_examples - 2 * held_out, held_out, held_out


def unique_pairs(
    make_batch: Callable[[np.random.Generator, int], list[Pair]],
    num_examples: int,
    rng: np.random.Generator,
    task: str,
    max_rounds: int = 50,
) -> list[Pair]:
    """Draws batches of pairs until `num_examples` distinct sources are found.

    Distinct sources keep the same example out of two splits.

    Args:
        make_batch: `make_batch(rng, size)` returns `size` random pairs.
        num_examples: How many pairs to return.
        rng: The random generator.
        task: The task name, for the error message.
        max_rounds: Give up after this many batches.

    Returns:
        `num_examples` pairs with distinct sources, in drawing order.
    """
    pairs: dict[str, str] = {}
    for _ in range(max_rounds):
        missing = num_examples - len(pairs)
        if missing <= 0:
            break
        for source, target in make_batch(rng, missing + missing // 10 + 16):
            pairs.setdefault(source, target)
    if len(pairs) < num_examples:
        raise ValueError(
            f"Invalid value for argument `num_examples`. Expected at most about {len(pairs)} "
            f"for task {task!r}, which has few distinct examples. "
            f"Received: num_examples={num_examples}"
        )
    return list(pairs.items())[:num_examples]


def split_pairs(pairs: Sequence[Pair], references: Sequence[list[str]] | None = None) -> dict:
    """Cuts pairs in order into train/validation/test and adds `references`.

    Args:
        pairs: `(source, target)` pairs, already shuffled.
        references: Every acceptable target per pair; defaults to `[target]`.

    Returns:
        `{"train": [...], "validation": [...], "test": [...],
        "references": {split: [[target, ...], ...]}}`.
    """
    if references is None:
        references = [[target] for _, target in pairs]
    sizes = split_sizes(len(pairs))
    out: dict = {}
    refs: dict = {}
    start = 0
    for name, size in zip(SPLITS, sizes, strict=True):
        out[name] = [tuple(pair) for pair in pairs[start : start + size]]
        refs[name] = [list(options) for options in references[start : start + size]]
        start += size
    out["references"] = refs
    return out


def hash_bucket(text: str, buckets: int) -> int:
    """A bucket in `[0, buckets)` fixed by the text alone (CRC-32 of its UTF-8 bytes)."""
    return zlib.crc32(text.encode("utf-8")) % buckets


def hash_split(text: str, validation_split: float, test_split: float) -> str:
    """The split a text (e.g. a source) belongs to, from a hash of the text alone.

    About `test_split` of all texts go to `"test"`, `validation_split` to
    `"validation"` and the rest to `"train"`, whatever their order, the seed or
    the file's size, so the lines of a source never cross splits and a
    streamed file needs no shuffle to be split.

    Example:

    >>> from seq2seq.data.tasks.splits import hash_split
    >>> hash_split("cat", 0.1, 0.1), hash_split("world", 0.1, 0.1)
    ('train', 'validation')
    """
    bucket = hash_bucket(text, HASH_BUCKETS)
    if bucket < round(test_split * HASH_BUCKETS):
        return "test"
    if bucket < first_train_bucket(validation_split, test_split):
        return "validation"
    return "train"


def first_train_bucket(validation_split: float, test_split: float) -> int:
    """The first `HASH_BUCKETS` bucket of `hash_split`'s training split (the ones below are
    held out): a loop over millions of texts compares `hash_bucket` with it directly."""
    return round((test_split + validation_split) * HASH_BUCKETS)
