"""Toy text tasks generated from a seed: reverse, sort and addition."""

from __future__ import annotations

import numpy as np

from seq2seq.data.tasks.splits import Pair, split_pairs, unique_pairs

ALPHABET = "abcdefghijklmnopqrst"
MIN_LENGTH = 5
MAX_LENGTH = 15
MAX_DIGITS = 3


def random_strings(rng: np.random.Generator, size: int) -> list[str]:
    """Returns `size` strings of 5 to 15 letters drawn from the 20-letter `ALPHABET`."""
    lengths = rng.integers(MIN_LENGTH, MAX_LENGTH + 1, size=size)
    letters = np.array(list(ALPHABET))[rng.integers(0, len(ALPHABET), size=int(lengths.sum()))]
    flat = "".join(letters.tolist())
    ends = np.cumsum(lengths)
    return [
        flat[end - length : end]
        for end, length in zip(ends.tolist(), lengths.tolist(), strict=True)
    ]


def _reverse_batch(rng: np.random.Generator, size: int) -> list[Pair]:
    return [(text, text[::-1]) for text in random_strings(rng, size)]


def _sort_batch(rng: np.random.Generator, size: int) -> list[Pair]:
    return [(text, "".join(sorted(text))) for text in random_strings(rng, size)]


def random_numbers(rng: np.random.Generator, size: int) -> np.ndarray:
    """Numbers with 1 to `MAX_DIGITS` digits, the digit count drawn first as in Keras' example."""
    digits = rng.integers(1, MAX_DIGITS + 1, size=size)
    return rng.integers(0, 10**digits)


def _addition_batch(rng: np.random.Generator, size: int) -> list[Pair]:
    first = random_numbers(rng, size).tolist()
    second = random_numbers(rng, size).tolist()
    return [(f"{a}+{b}", str(a + b)) for a, b in zip(first, second, strict=True)]


def load_reverse(num_examples: int, seed: int) -> dict:
    """Random strings over 20 letters, 5 to 15 long, mapped to their reverse."""
    rng = np.random.default_rng(seed)
    return split_pairs(unique_pairs(_reverse_batch, num_examples, rng, "reverse"))


def load_sort(num_examples: int, seed: int) -> dict:
    """Random strings over 20 letters mapped to their characters in sorted order."""
    rng = np.random.default_rng(seed)
    return split_pairs(unique_pairs(_sort_batch, num_examples, rng, "sort"))


def load_addition(num_examples: int, seed: int) -> dict:
    """Sums of two numbers of up to three digits, as in Keras' addition_rnn example."""
    rng = np.random.default_rng(seed)
    return split_pairs(unique_pairs(_addition_batch, num_examples, rng, "addition"))
