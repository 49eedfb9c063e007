"""Length-bucketed batches: every example once, padded to its batch, replayable, fewer pads."""

import math

import numpy as np
import pytest

from seq2seq.training.length_buckets import LENGTH_STEP, LengthBuckets, sequence_lengths


def _ids(lengths, width, rng):
    ids = np.zeros((len(lengths), width), dtype=np.int32)
    for row, length in enumerate(lengths):
        ids[row, : length - 1] = rng.integers(4, 9, length - 1)
        ids[row, length - 1] = 2  # the end id
    return ids


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x_lengths = rng.integers(2, 30, 1000)
    y_lengths = np.clip(x_lengths + rng.integers(-2, 3, 1000), 2, 31)
    return _ids(x_lengths, 30, rng), _ids(y_lengths, 31, rng), x_lengths, y_lengths


def test_sequence_lengths_count_up_to_the_last_id():
    ids = np.array([[5, 2, 0, 0], [5, 5, 5, 2], [0, 0, 0, 0]])
    np.testing.assert_array_equal(sequence_lengths(ids), [2, 4, 0])


def test_every_example_once_each_batch_padded_to_its_own_longest(data):
    x, y, x_lengths, y_lengths = data
    order = np.random.default_rng(1).permutation(len(x))
    batches = LengthBuckets(x, y, order, batch_size=32, seed=(0, 0))
    assert len(batches) == math.ceil(len(x) / 32)
    seen = np.concatenate(batches.batches)
    np.testing.assert_array_equal(np.sort(seen), np.arange(len(x)))
    widths = set()
    for index in range(len(batches)):
        (bx, by), targets = batches[index]
        members = batches.batches[index]
        np.testing.assert_array_equal(bx, x[members, : bx.shape[1]])
        np.testing.assert_array_equal(by, targets)
        # Nothing but padding is cut off, and the width is the longest rounded up.
        assert not x[members, bx.shape[1] :].any() and not y[members, by.shape[1] :].any()
        assert bx.shape[1] == min(30, -(-x_lengths[members].max() // LENGTH_STEP) * LENGTH_STEP)
        assert by.shape[1] == min(31, -(-y_lengths[members].max() // LENGTH_STEP) * LENGTH_STEP)
        widths.add((bx.shape[1], by.shape[1]))
    assert len(widths) <= 20  # few shapes to compile
    padded = sum(batches[i][0][0].size for i in range(len(batches)))
    assert padded < 0.7 * x.size  # far less padding than the whole-data width


def test_the_same_seed_replays_and_skip_drops_the_first_batches(data):
    x, y, _, _ = data
    order = np.arange(len(x))
    first = LengthBuckets(x, y, order, batch_size=32, seed=(3, 1))
    again = LengthBuckets(x, y, order, batch_size=32, seed=(3, 1))
    other = LengthBuckets(x, y, order, batch_size=32, seed=(3, 2))
    skipped = LengthBuckets(x, y, order, batch_size=32, seed=(3, 1), skip=5)
    for a, b in zip(first.batches, again.batches):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(first.batches, other.batches))
    assert len(skipped) == len(first) - 5
    for a, b in zip(first.batches[5:], skipped.batches):
        np.testing.assert_array_equal(a, b)


def test_targets_keep_their_width_unless_trimmed(data):
    x, y, _, _ = data
    batches = LengthBuckets(x, y, np.arange(len(x)), batch_size=32, seed=0, trim_targets=False)
    assert {batches[i][1].shape[1] for i in range(len(batches))} == {31}


def test_without_pools_the_batches_cut_one_sorted_order(data):
    x, y, x_lengths, _ = data
    order = np.random.default_rng(2).permutation(len(x))
    batches = LengthBuckets(x, y, order, batch_size=32, seed=0, pool_batches=None)
    spans = sorted((x_lengths[m].min(), x_lengths[m].max()) for m in batches.batches)
    # Batch after batch of the whole set sorted by length: no two overlap but at an end.
    assert all(low >= high for (_, high), (low, _) in zip(spans, spans[1:]))
    pooled = LengthBuckets(x, y, order, batch_size=32, seed=0, pool_batches=4)
    width = sum(batches[i][0][0].shape[1] for i in range(len(batches)))
    assert width < sum(pooled[i][0][0].shape[1] for i in range(len(pooled)))
