"""Streamed training data: hash splits, one pass per epoch through a bounded buffer, resuming."""

import collections
import math

import keras
import numpy as np
import pytest

from seq2seq.commands.datasets import load_dataset
from seq2seq.commands.train import seed_everything
from seq2seq.data.readers import read_pairs
from seq2seq.data.streamed_pairs import StreamedPairs
from seq2seq.data.tasks.splits import hash_split
from seq2seq.data.vocabularies import build_vocabulary, streamed_vocabularies
from seq2seq.models import Seq2Seq
from seq2seq.training.checkpoint import Checkpoint
from seq2seq.training.length_buckets import LENGTH_STEP, POOL_BATCHES, sequence_lengths
from seq2seq.training.run_folder import RunFolder
from seq2seq.training.streamed_batches import PREFETCH_POOLS, StreamedBatches
from seq2seq.training.training_run import RunSettings, TrainingRun

WORDS = ("cat", "dog", "bird", "fish", "cow", "hen", "owl")
BATCH = 8
BUFFER = 40


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    """600 lines of word pairs; a few sources repeat with other targets."""
    rng = np.random.default_rng(0)
    lines = []
    for index in range(600):
        words = list(rng.choice(WORDS, size=rng.integers(1, 6)))
        lines.append(f"{index} {' '.join(words)}\t{' '.join(reversed(words))}")
    lines += [f"{index} again\tagain {index}" for index in range(0, 600, 50)]
    path = tmp_path_factory.mktemp("stream") / "pairs.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def stream(data_file):
    return StreamedPairs.scan(data_file, ("char", "word"), validation_split=0.1, test_split=0.1)


def _batches(stream, seed=(0, 0), skip=0, **kwargs):
    source, target, length = streamed_vocabularies(stream, ("char", "word"))
    return StreamedBatches(
        stream.train_pairs, stream.train_size, source, target, length, BATCH, seed, skip=skip,
        shuffle_buffer=BUFFER, **kwargs,
    )  # fmt: skip


def _decoded(batches):
    pairs = []
    for index in range(len(batches)):
        (x, y), labels = batches[index]
        np.testing.assert_array_equal(y, labels)
        pairs += zip(
            batches.source_vocabulary.decode(x), batches.target_vocabulary.decode(y), strict=True
        )
    return pairs


def test_splits_follow_a_hash_of_the_source_and_are_disjoint(data_file, stream):
    sources, targets = read_pairs(data_file)
    expected = collections.Counter(
        pair
        for pair in zip(sources, targets, strict=True)
        if hash_split(pair[0], 0.1, 0.1) == "train"
    )
    assert stream.train_size == sum(expected.values())
    assert collections.Counter(stream.train_pairs()) == expected
    held = {name: set(stream.held_out[name]["sources"]) for name in ("validation", "test")}
    train_sources = {source for source, _ in expected}
    assert held["validation"] and held["test"]
    assert not held["validation"] & held["test"]
    assert not (held["validation"] | held["test"]) & train_sources
    for part in stream.held_out.values():
        for source, references in zip(part["sources"], part["references"], strict=True):
            assert references == [t for s, t in zip(sources, targets, strict=True) if s == source]
    again = StreamedPairs.scan(data_file, ("char", "word"), validation_split=0.1, test_split=0.1)
    assert again == stream


def test_streamed_vocabularies_equal_the_in_memory_ones(stream):
    sources, targets = zip(*stream.train_pairs(), strict=True)
    source, target, length = streamed_vocabularies(stream, ("char", "word"))
    assert source == build_vocabulary(sources, "char")
    assert target == build_vocabulary(targets, "word")
    assert length == max(len(t.split()) for t in targets) + 1


def test_each_training_pair_is_seen_once_per_epoch(stream):
    batches = _batches(stream)
    assert len(batches) == math.ceil(stream.train_size / BATCH)
    seen = _decoded(batches)
    assert collections.Counter(seen) == collections.Counter(stream.train_pairs())
    assert seen != list(stream.train_pairs())  # shuffled
    other_epoch = _decoded(batches.for_epoch((0, 1)))
    assert collections.Counter(other_epoch) == collections.Counter(seen)
    assert other_epoch != seen


def test_batches_are_replayable_and_skip_drops_the_first(stream):
    batches = _batches(stream, seed=(3, 2))
    again = _batches(stream, seed=(3, 2))
    skipped = _batches(stream, seed=(3, 2), skip=5)
    last = len(batches) - 1
    # Out of order: a later pool, then back to the first (which reads the file again).
    picked = [again[last], again[0], again[7]]
    for got, index in zip(picked, (last, 0, 7), strict=True):
        np.testing.assert_array_equal(got[0][0], batches[index][0][0])
    assert len(skipped) == len(batches) - 5
    for index in range(len(skipped)):
        np.testing.assert_array_equal(skipped[index][1], batches[index + 5][1])


def test_batches_are_bucketed_and_padded_to_their_own_length(stream):
    widths = set()
    for index in range(len(batches := _batches(stream))):
        (x, y), _ = batches[index]
        for ids in (x, y):
            assert ids.shape[1] % LENGTH_STEP == 0 or ids.shape[1] == batches.output_length
            assert ids.shape[1] - sequence_lengths(ids).max() < LENGTH_STEP
        widths.add(x.shape[1])
    assert len(widths) > 1
    full = _batches(stream, trim_targets=False)[0][0][1]
    assert full.shape[1] == batches.output_length


def test_memory_is_bounded_by_the_buffer_and_one_pool(stream):
    """The stream is read lazily: at any batch, at most the buffer and a few pools are held."""
    read = [0]

    def counted():
        for pair in stream.train_pairs():
            read[0] += 1
            yield pair

    source, target, length = streamed_vocabularies(stream, ("char", "word"))
    batch = 2  # pools of 128 pairs: several in the file
    batches = StreamedBatches(counted, stream.train_size, source, target, length, batch, (0, 0),
                              shuffle_buffer=BUFFER)  # fmt: skip
    pool = POOL_BATCHES * batch
    produced = 0
    for index in range(len(batches)):
        (x, _), _ = batches[index]
        produced += len(x)
        # The buffer, the pool being trained on, the pools read ahead and the one being read.
        assert read[0] - produced <= BUFFER + (PREFETCH_POOLS + 2) * pool
    assert read[0] == stream.train_size
    assert pool < stream.train_size  # more than one pool, so the bound is tested


def test_load_dataset_streams_a_file(data_file, stream):
    dataset = load_dataset(data=data_file, level="char", target_level="word", stream=True)
    assert dataset.stream == stream
    assert dataset.size("train") == stream.train_size and not dataset.splits["train"]["sources"]
    assert dataset.splits["test"] == stream.held_out["test"]


def _fit(stream, folder, resume_from=None, epochs=1):
    seed_everything(1)
    source, target, length = streamed_vocabularies(stream, ("char", "word"))
    model = Seq2Seq(input_vocab_size=len(source), output_vocab_size=len(target),
                    output_length=length, hidden_dim=4, embedding_dim=4, seed=1)  # fmt: skip
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    settings = RunSettings(epochs=epochs, batch_size=BATCH, seed=1, patience=5,
                           checkpoint_every=30, keep_checkpoints=9, verbose=0)  # fmt: skip
    train = StreamedBatches(stream.train_pairs, stream.train_size, source, target, length, BATCH,
                            (1, 0), shuffle_buffer=BUFFER)  # fmt: skip
    part = stream.held_out["validation"]
    validation = (source.encode(part["sources"]), target.encode(part["targets"], max_length=length))
    run = TrainingRun(model, RunFolder(folder), settings)
    return model, run.fit(train, validation, resume_from=resume_from)


@pytest.mark.filterwarnings("ignore:Vocabulary.encode")  # held-out words unseen in training
def test_a_streamed_run_resumes_inside_an_epoch(stream, tmp_path):
    model, history = _fit(stream, tmp_path / "whole")
    assert len(history["loss"]) == 1
    folder = RunFolder(tmp_path / "whole")
    checkpoint = Checkpoint.load(folder.checkpoint_path(30))
    assert checkpoint.position == 30 and checkpoint.epoch == 0
    resumed, resumed_history = _fit(stream, tmp_path / "resumed", resume_from=checkpoint)
    assert resumed_history == history
    for a, b in zip(resumed.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
