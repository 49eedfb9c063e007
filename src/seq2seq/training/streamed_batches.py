"""One epoch of batches read from disk through a shuffle buffer, grouped by length."""

from __future__ import annotations

import copy
import math
import queue
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator

import keras
import numpy as np

from seq2seq.training.length_buckets import (
    POOL_BATCHES,
    padded_batch,
    sequence_lengths,
    sorted_batches,
)

# Pairs held by the shuffle buffer: each pair read replaces a random one of them.
SHUFFLE_BUFFER = 50_000
# Random buffer positions drawn at once.
DRAWS = 4096
# Pools read ahead by a background thread while the model trains on the current one.
PREFETCH_POOLS = 2
# Seconds between checks, by a reader blocked on a full queue, that it is still wanted.
POLL_SECONDS = 0.1
_END = object()

Pair = tuple[str, str]


class StreamedBatches(keras.utils.PyDataset):
    """The teacher-forced batches of one epoch over pairs streamed from disk.

    Each epoch reads the training pairs once, in file order, through a shuffle
    buffer of `shuffle_buffer` pairs (a pair read takes the place of a random
    one, which moves on). The shuffled pairs are taken in pools of
    `POOL_BATCHES` batches; a pool is encoded, sorted by length and cut into
    batches as `LengthBuckets` does (when `bucket`), and its batches are
    shuffled. Each batch is padded to its own longest source and target
    (rounded up to a multiple of `LENGTH_STEP`), so few shapes compile. Memory
    holds the buffer and a few pools, whatever the size of the file: a
    background thread reads up to `PREFETCH_POOLS` pools ahead, so reading
    and encoding overlap training.

    The batches follow from `seed` alone, so an epoch can be replayed: `skip`
    drops its first batches (a run resumed inside an epoch reads past them).
    There are `ceil(size / batch_size)` batches, as in memory. Batches are
    produced in order; asking for an earlier pool reads the file again.

    Args:
        pairs: Called once per pass, returns the training `(source, target)`
            pairs (e.g. `StreamedPairs.train_pairs`).
        size: The number of training pairs that `pairs()` yields.
        source_vocabulary: Encodes the sources.
        target_vocabulary: Encodes the targets.
        output_length: The decoder's full length (targets and their end id).
        batch_size: Pairs per batch.
        seed: Seeds the shuffle (e.g. `(run seed, epoch)`).
        skip: Batches already trained in this epoch.
        shuffle_buffer: Pairs in the shuffle buffer.
        bucket: Sort each pool by length before cutting it into batches.
        trim_targets: Pad targets to the batch too, else to `output_length`.
        **kwargs: `keras.utils.PyDataset` arguments.

    Example:

    >>> from seq2seq.training.streamed_batches import StreamedBatches
    >>> batches = StreamedBatches(
    ...     pairs.train_pairs, pairs.train_size, source_vocab, target_vocab, 40, 64, seed=(0, 0)
    ... )  # doctest: +SKIP
    >>> model.fit(batches)  # doctest: +SKIP
    """

    def __init__(
        self,
        pairs: Callable[[], Iterable[Pair]],
        size: int,
        source_vocabulary,
        target_vocabulary,
        output_length: int,
        batch_size: int,
        seed,
        skip: int = 0,
        shuffle_buffer: int = SHUFFLE_BUFFER,
        bucket: bool = True,
        trim_targets: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in (
            ("size", size),
            ("batch_size", batch_size),
            ("shuffle_buffer", shuffle_buffer),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"Invalid value for argument `{name}`. Expected a positive int. "
                    f"Received: {name}={value!r}"
                )
        self.pairs = pairs
        self.size = size
        self.source_vocabulary = source_vocabulary
        self.target_vocabulary = target_vocabulary
        self.output_length = output_length
        self.batch_size = batch_size
        self.seed = seed
        self.skip = skip
        self.shuffle_buffer = shuffle_buffer
        self.bucket = bucket
        self.trim_targets = trim_targets
        self._restart()

    def for_epoch(self, seed, skip: int = 0, trim_targets: bool | None = None) -> StreamedBatches:
        """The same stream with another seed (an epoch's) and `skip`."""
        other = copy.copy(self)
        other.seed, other.skip = seed, skip
        if trim_targets is not None:
            other.trim_targets = trim_targets
        other._reader = None
        other._restart()
        return other

    def first_row(self) -> tuple[np.ndarray, np.ndarray]:
        """The first training pair, encoded, its target at the full `output_length`."""
        source, target = next(iter(self.pairs()))
        y = self.target_vocabulary.encode([target], max_length=self.output_length)
        return self.source_vocabulary.encode([source]), y

    def __len__(self) -> int:
        return math.ceil(self.size / self.batch_size) - self.skip

    def __getitem__(self, index: int):
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} out of range for {len(self)} batches")
        wanted = index + self.skip
        if wanted < self._pool_start:
            self._restart()
        if self._reader is None:
            self._start_reader()
        while wanted >= self._pool_start + len(self._pool):
            self._pool_start += len(self._pool)
            self._pool = self._next_pool()
        return self._pool[wanted - self._pool_start]

    def on_epoch_end(self) -> None:
        self._stop_reader()

    def _restart(self) -> None:
        self._stop_reader()
        self._pool_start, self._pool = 0, []

    def _start_reader(self) -> None:
        pools = self._read_pools(np.random.default_rng(self.seed))
        self._queue = queue.Queue(maxsize=PREFETCH_POOLS)
        self._stopping = threading.Event()
        self._reader = threading.Thread(
            target=_read_ahead, args=(pools, self._queue, self._stopping), daemon=True
        )
        self._reader.start()

    def _stop_reader(self) -> None:
        reader = getattr(self, "_reader", None)
        if reader is not None:
            self._stopping.set()
            reader.join()
        self._reader = None

    def _next_pool(self) -> list:
        item = self._queue.get()
        if item is _END:
            self._reader = None
            raise ValueError(
                "Invalid value for argument `size`. Expected the number of pairs that "
                f"`pairs()` yields (the data file changed?). Received: size={self.size}"
            )
        if isinstance(item, BaseException):
            self._reader = None
            raise item
        return item

    def _shuffled(self, rng: np.random.Generator) -> Iterator[Pair]:
        buffer: list[Pair] = []
        draws, used = [], DRAWS
        for pair in self.pairs():
            if len(buffer) < self.shuffle_buffer:
                buffer.append(pair)
                continue
            if used == DRAWS:
                draws, used = rng.integers(0, self.shuffle_buffer, DRAWS).tolist(), 0
            slot = draws[used]
            used += 1
            yield buffer[slot]
            buffer[slot] = pair
        for slot in rng.permutation(len(buffer)).tolist():
            yield buffer[slot]

    def _read_pools(self, rng: np.random.Generator) -> Iterator[list]:
        pool_size = POOL_BATCHES * self.batch_size
        pool: list[Pair] = []
        for pair in self._shuffled(rng):
            pool.append(pair)
            if len(pool) == pool_size:
                yield self._batches(pool, rng)
                pool = []
        if pool:
            yield self._batches(pool, rng)

    def _batches(self, pool: list[Pair], rng: np.random.Generator) -> list:
        sources, targets = zip(*pool, strict=True)
        with warnings.catch_warnings():  # a subword model trained on a sample of the file
            warnings.simplefilter("ignore")
            x = self.source_vocabulary.encode(sources)
            y = self.target_vocabulary.encode(targets, max_length=self.output_length)
        x_lengths, y_lengths = sequence_lengths(x), sequence_lengths(y)
        members = np.arange(len(pool))
        if self.bucket:
            batches = sorted_batches(members, x_lengths, y_lengths, self.batch_size)
        else:
            batches = np.array_split(members, range(self.batch_size, len(pool), self.batch_size))
        order = rng.permutation(len(batches)).tolist()
        return [
            padded_batch(x, y, batches[i], x_lengths, y_lengths, self.trim_targets) for i in order
        ]


def _read_ahead(pools: Iterator[list], out: queue.Queue, stopping: threading.Event) -> None:
    """Puts each pool of `pools` on `out`, then `_END` (or the error that stopped it)."""

    def put(item) -> bool:
        while not stopping.is_set():
            try:
                out.put(item, timeout=POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    try:
        for pool in pools:
            if not put(pool):
                return
    except BaseException as error:  # handed over to the training thread
        put(error)
        return
    put(_END)
