"""Helpers shared by the text tasks: unique example generation and splitting."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

SPLITS = ("train", "validation", "test")
HELD_OUT_FRACTION = 0.1

Pair = tuple[str, str]


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
