"""Builds the vocabulary of a level: characters, words or subwords."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterable

from seq2seq.data.streamed_pairs import COUNT_CHUNK, StreamedPairs
from seq2seq.data.subword_vocabulary import DEFAULT_VOCAB_SIZE, LEVEL, SubwordVocabulary
from seq2seq.data.vocabulary import Vocabulary


def build_vocabulary(
    texts: Iterable[str], level: str, vocab_size: int = DEFAULT_VOCAB_SIZE, seed: int = 0
) -> Vocabulary | SubwordVocabulary:
    """A vocabulary of `texts` at `level`.

    Args:
        texts: The training texts of one side.
        level: `"char"`, `"word"` (a `Vocabulary` of every symbol) or
            `"subword"` (a `SubwordVocabulary` trained on the texts).
        vocab_size: The number of ids of a subword vocabulary; ignored otherwise.
        seed: Seeds the sample a subword vocabulary trains on, for a large corpus.

    Returns:
        A `Vocabulary` or a `SubwordVocabulary`.

    Example:

    >>> from seq2seq.data.vocabularies import build_vocabulary
    >>> len(build_vocabulary(["ab", "ba"], level="char"))
    6
    """
    if level == LEVEL:
        return SubwordVocabulary.build(texts, vocab_size=vocab_size, seed=seed)
    return Vocabulary.build(texts, level=level)


def streamed_vocabularies(
    pairs: StreamedPairs,
    levels: tuple[str, str],
    vocab_size: int = DEFAULT_VOCAB_SIZE,
    seed: int = 0,
) -> tuple[Vocabulary | SubwordVocabulary, Vocabulary | SubwordVocabulary, int]:
    """The source and target vocabularies of a streamed file's training pairs, and the
    decoder's length (the longest target in symbols, plus its end id).

    Character and word vocabularies come from the counts of `StreamedPairs.scan`
    (the same as `build_vocabulary` on the same texts). A subword vocabulary
    trains on one more pass over the training texts (sampled above
    `MAX_TRAINING_TEXTS`), and a subword target takes one more to measure it.
    """
    built = []
    for index, side in enumerate(("source", "target")):
        if levels[index] == LEVEL:
            texts = (pair[index] for pair in pairs.train_pairs())
            built.append(SubwordVocabulary.build(texts, vocab_size=vocab_size, seed=seed))
        else:
            built.append(Vocabulary.from_counts(pairs.counts[side], level=levels[index]))
    source_vocabulary, target_vocabulary = built
    longest = pairs.longest_target
    if levels[1] == LEVEL:
        targets = (target for _, target in pairs.train_pairs())
        with warnings.catch_warnings():  # characters left out of a sampled corpus
            warnings.simplefilter("ignore")
            while chunk := list(itertools.islice(targets, COUNT_CHUNK)):
                longest = max(longest, target_vocabulary.encode(chunk).shape[1] - 1)
    return source_vocabulary, target_vocabulary, longest + 1
