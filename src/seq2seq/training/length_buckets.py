"""Batches of token sequences of similar length, each padded only to its own longest member."""

from __future__ import annotations

import math

import keras
import numpy as np

# Examples sorted by length together: this many batches' worth, drawn in the epoch's order.
POOL_BATCHES = 64
# Padded lengths are rounded up to a multiple of this, so few shapes need compiling.
LENGTH_STEP = 4


def padded_length(lengths: np.ndarray, full: int) -> int:
    """The width a batch whose longest sequence has `max(lengths)` steps is padded to."""
    longest = int(lengths.max()) if len(lengths) else 1
    return min(full, max(LENGTH_STEP, math.ceil(longest / LENGTH_STEP) * LENGTH_STEP))


def sequence_lengths(ids: np.ndarray) -> np.ndarray:
    """Steps up to and including the last non-padding id of each row (padding id 0 at the end)."""
    nonzero = ids != 0
    last = ids.shape[1] - np.argmax(nonzero[:, ::-1], axis=1)
    return np.where(nonzero.any(axis=1), last, 0)


def sorted_batches(
    members: np.ndarray, x_lengths: np.ndarray, y_lengths: np.ndarray, batch_size: int
) -> list[np.ndarray]:
    """Cuts a pool of example indices into batches of similar length.

    The pool is sorted by source length, then target length (ties keep the
    pool's order), and cut into batches of `batch_size` (the last may be smaller).
    """
    members = members[np.lexsort((y_lengths[members], x_lengths[members]))]
    return [members[i : i + batch_size] for i in range(0, len(members), batch_size)]


def padded_batch(x, y, members, x_lengths, y_lengths, trim_targets=True):
    """The teacher-forced batch `((x, y), y)` of rows `members`, cut to their own lengths.

    Sources are cut to the batch's `padded_length`; targets too when
    `trim_targets`, else they keep their full width.
    """
    x_width = padded_length(x_lengths[members], x.shape[1])
    y_width = y.shape[1]
    if trim_targets:
        y_width = padded_length(y_lengths[members], y_width)
    x, y = x[members, :x_width], y[members, :y_width]
    return (x, y), y


class LengthBuckets(keras.utils.PyDataset):
    """One epoch of teacher-forced batches grouped by length, in a fixed, replayable order.

    The examples are taken in `order` (the epoch's permutation), in pools of
    `POOL_BATCHES` batches; each pool is sorted by source then target length and
    cut into batches, and the batches of the epoch are then shuffled with
    `seed`. A batch is padded to its longest source and target, rounded up to a
    multiple of `LENGTH_STEP`, so a run compiles a few shapes only. The same
    `order` and `seed` give the same batches, and `skip` drops the first ones
    (a run resumed inside an epoch). There are `ceil(len(order) / batch_size)`
    batches, as without bucketing.

    Args:
        x: Source ids `(n, in_len)`, padded with 0 at the end.
        y: Target ids `(n, out_len)`, padded with 0 at the end.
        order: The epoch's order of the examples.
        batch_size: Examples per batch.
        seed: Seeds the order of the batches (e.g. `(run seed, epoch)`).
        skip: Batches already trained in this epoch.
        trim_targets: Pad targets to the batch too (a model whose decoder runs as many
            steps as its teacher-forced targets); else they keep their full width.
        pool_batches: Batches' worth of examples sorted together; None sorts them all
            (the fewest padded steps, for data that is not trained on: validation).
        **kwargs: `keras.utils.PyDataset` arguments.

    Example:

    >>> import numpy as np
    >>> from seq2seq.training.length_buckets import LengthBuckets
    >>> x = np.array([[5, 2, 0, 0, 0, 0], [5, 5, 5, 5, 5, 2]] * 4)
    >>> batches = LengthBuckets(x, x, np.arange(8), batch_size=4, seed=(0, 0))
    >>> sorted(batch[1].shape for batch in (batches[0], batches[1]))
    [(4, 4), (4, 6)]
    """

    def __init__(
        self,
        x,
        y,
        order,
        batch_size,
        seed,
        skip=0,
        trim_targets=True,
        pool_batches=POOL_BATCHES,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.x, self.y = x, y
        self.trim_targets = trim_targets
        x_lengths, y_lengths = sequence_lengths(x), sequence_lengths(y)
        batches = []
        pool = len(order) if pool_batches is None else pool_batches * batch_size
        for start in range(0, len(order), pool):
            members = np.asarray(order[start : start + pool])
            batches += sorted_batches(members, x_lengths, y_lengths, batch_size)
        shuffle = np.random.default_rng(seed).permutation(len(batches))
        self.batches = [batches[i] for i in shuffle.tolist()][skip:]
        self.x_lengths, self.y_lengths = x_lengths, y_lengths

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, index):
        members = self.batches[index]
        return padded_batch(
            self.x, self.y, members, self.x_lengths, self.y_lengths, self.trim_targets
        )
