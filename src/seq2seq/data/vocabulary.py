"""A symbol table that turns strings into padded id arrays and back."""

from __future__ import annotations

import collections
import itertools
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from seq2seq.backend import choose_default_backend
from seq2seq.conventions import END_ID, PAD_ID, START_ID, UNK_ID
from seq2seq.conventions import SPLIT_LEVELS as LEVELS

# Keras is imported only for the serialisation registry; pick the backend first so
# that importing this module alone never falls back to a missing TensorFlow.
choose_default_backend()

import keras  # noqa: E402

PAD_TOKEN = "<pad>"
START_TOKEN = "<s>"
END_TOKEN = "</s>"
UNK_TOKEN = "<unk>"
RESERVED_TOKENS = (PAD_TOKEN, START_TOKEN, END_TOKEN, UNK_TOKEN)
MAX_UNKNOWN_LISTED = 20


def _check_level(level: Any) -> str:
    if level not in LEVELS:
        raise ValueError(
            f"Invalid value for argument `level`. Expected one of {LEVELS}. Received: level={level!r}"
        )
    return level


def check_texts(texts: Any, name: str = "texts") -> list[str]:
    """`texts` as a list of strings: one string becomes a list of one."""
    if isinstance(texts, str):
        return [texts]
    if not isinstance(texts, Iterable):
        raise TypeError(
            f"Invalid value for argument `{name}`. Expected a string or a list of strings. "
            f"Received: {name} of type {type(texts).__name__}"
        )
    texts = list(texts)
    if set(map(type, texts)) <= {str}:  # the common case, checked at C speed
        return texts
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(
                f"Invalid value for argument `{name}`. Expected a list of strings. "
                f"Received: {name}[{index}]={text!r} of type {type(text).__name__}"
            )
    return texts


def check_max_length(max_length: Any) -> None:
    """Raises if `max_length` (of `encode`) is neither `None` nor a positive int."""
    if max_length is not None and (
        isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1
    ):
        raise ValueError(
            "Invalid value for argument `max_length`. Expected None or a positive int. "
            f"Received: max_length={max_length!r}"
        )


def padded_rows(
    ids: np.ndarray, lengths: np.ndarray, max_length: int | None, add_end: bool
) -> np.ndarray:
    """Lays out the concatenated `ids` of sequences of `lengths` as rows padded with `PAD_ID`.

    Args:
        ids: The ids of every sequence, one after the other.
        lengths: The number of ids of each sequence.
        max_length: The number of columns; longer sequences are cut. `None`
            uses the longest sequence (plus its end id).
        add_end: Whether to write `END_ID` after each sequence that fits.

    Returns:
        An int32 array of shape `(len(lengths), width)`.
    """
    if max_length is None:
        width = int(lengths.max(initial=0)) + int(add_end)
    else:
        width = max_length
    out = np.zeros((len(lengths), width), dtype=np.int32)
    rows = np.repeat(np.arange(len(lengths)), lengths)
    cols = np.arange(len(ids)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    keep = cols < width
    out[rows[keep], cols[keep]] = ids[keep]
    if add_end:
        ended = np.flatnonzero(lengths < width)
        out[ended, lengths[ended]] = END_ID
    return out


def id_rows(ids: Any, size: int) -> np.ndarray:
    """`ids` (of `decode`) as a 2D int array, checked to lie in `[0, size)`."""
    array = np.asarray(ids)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or not (array.size == 0 or np.issubdtype(array.dtype, np.integer)):
        raise ValueError(
            "Invalid value for argument `ids`. Expected an int array of shape "
            f"(n, length) or (length,). Received: ids with shape {array.shape} "
            f"and dtype {array.dtype}"
        )
    if array.size and (array.min() < 0 or array.max() >= size):
        bad = array[(array < 0) | (array >= size)]
        raise ValueError(
            f"Invalid value for argument `ids`. Expected ids in [0, {size}). "
            f"Received: id {int(bad.flat[0])}"
        )
    return array


def strip_reserved(row: list[int]) -> list[int]:
    """The ids of `row` before its first `END_ID`, without `PAD_ID` and `START_ID`."""
    if END_ID in row:
        row = row[: row.index(END_ID)]
    return [i for i in row if i != PAD_ID and i != START_ID]


@keras.saving.register_keras_serializable(package="seq2seq")
class Vocabulary:
    """Maps the symbols of a text (characters or words) to integer ids.

    Ids 0 to 3 are reserved: `PAD_ID` (`"<pad>"`), `START_ID` (`"<s>"`),
    `END_ID` (`"</s>"`) and `UNK_ID` (`"<unk>"`). The given tokens follow in
    order from id 4, so `len(vocab) == len(tokens) + 4`.

    The class is a plain Python object with `get_config()` and `from_config()`,
    registered with Keras, so a model can keep its vocabularies in its config and
    a saved `.keras` file restores them.

    Args:
        tokens: The symbols, without the reserved ones, in id order. At the
            `"char"` level each is a single character; at the `"word"` level
            each is a non-empty string without whitespace.
        level: `"char"` splits a text into characters and joins decoded ones
            with `""`; `"word"` splits on whitespace and joins with `" "`.

    Example:

    >>> from seq2seq.data.vocabulary import Vocabulary
    >>> vocab = Vocabulary.build(["abc", "cab"], level="char")
    >>> vocab.encode(["cab", "b"]).tolist()
    [[6, 4, 5, 2], [5, 2, 0, 0]]
    >>> vocab.decode([[6, 4, 5, 2]])
    ['cab']
    """

    def __init__(self, tokens: Sequence[str], level: str = "char"):
        self.level = _check_level(level)
        if isinstance(tokens, str) or not isinstance(tokens, Iterable):
            raise TypeError(
                "Invalid value for argument `tokens`. Expected a list of strings. "
                f"Received: tokens={tokens!r}"
            )
        tokens = list(tokens)
        seen = set()
        for index, token in enumerate(tokens):
            problem = None
            if not isinstance(token, str) or not token:
                problem = "a non-empty string"
            elif token in RESERVED_TOKENS:
                problem = f"a symbol other than the reserved {RESERVED_TOKENS}"
            elif token in seen:
                problem = "symbols without duplicates"
            elif level == "char" and len(token) != 1:
                problem = 'a single character at level="char"'
            elif level == "word" and len(token.split()) != 1:
                problem = 'a symbol without whitespace at level="word"'
            if problem:
                raise ValueError(
                    f"Invalid value for argument `tokens`. Expected {problem}. "
                    f"Received: tokens[{index}]={token!r}"
                )
            seen.add(token)
        self.tokens = tokens
        self._symbols = list(RESERVED_TOKENS) + tokens
        self._index = {symbol: i for i, symbol in enumerate(self._symbols)}

    @classmethod
    def build(
        cls,
        texts: Iterable[str],
        level: str = "char",
        min_count: int = 1,
        max_size: int | None = None,
    ) -> Vocabulary:
        """Builds a vocabulary from the symbols of some texts.

        Symbols are ordered by decreasing count, then alphabetically, so the same
        texts always give the same ids.

        Args:
            texts: The strings to count symbols in.
            level: `"char"` or `"word"`.
            min_count: Symbols seen fewer times than this are left out.
            max_size: Keep at most this many symbols (the four reserved ones
                not counted), the most frequent first. `None` keeps all.

        Returns:
            A new `Vocabulary`.
        """
        _check_level(level)
        texts = check_texts(texts)
        counts = collections.Counter()
        for text in texts:
            counts.update(text if level == "char" else text.split())
        return cls.from_counts(counts, level=level, min_count=min_count, max_size=max_size)

    @classmethod
    def from_counts(
        cls,
        counts: collections.Counter,
        level: str = "char",
        min_count: int = 1,
        max_size: int | None = None,
    ) -> Vocabulary:
        """Builds a vocabulary from symbol counts, as `build` does from texts.

        A streamed data file is counted in one pass without holding its texts;
        the same counts give the same vocabulary as `build`.

        Args:
            counts: Symbol to the number of times it was seen.
            level: `"char"` or `"word"`.
            min_count: Symbols seen fewer times than this are left out.
            max_size: Keep at most this many symbols, the most frequent first.

        Returns:
            A new `Vocabulary`.
        """
        _check_level(level)
        if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
            raise ValueError(
                "Invalid value for argument `min_count`. Expected a positive int. "
                f"Received: min_count={min_count!r}"
            )
        if max_size is not None and (
            isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 0
        ):
            raise ValueError(
                "Invalid value for argument `max_size`. Expected None or a non-negative int. "
                f"Received: max_size={max_size!r}"
            )
        counts = collections.Counter(counts)
        for reserved in RESERVED_TOKENS:
            counts.pop(reserved, None)
        ranked = sorted(
            (symbol for symbol, count in counts.items() if count >= min_count),
            key=lambda symbol: (-counts[symbol], symbol),
        )
        if max_size is not None:
            ranked = ranked[:max_size]
        return cls(ranked, level=level)

    def __len__(self) -> int:
        return len(self._symbols)

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._index

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return self.level == other.level and self.tokens == other.tokens

    __hash__ = None

    def __repr__(self) -> str:
        return f"Vocabulary(size={len(self)}, level={self.level!r})"

    @property
    def symbols(self) -> list[str]:
        """All symbols in id order, the reserved ones first."""
        return list(self._symbols)

    def token_to_id(self, token: str) -> int:
        """Returns the id of `token`, or `UNK_ID` when it is unknown."""
        return self._index.get(token, UNK_ID)

    def id_to_token(self, token_id: int) -> str:
        """Returns the symbol with id `token_id`."""
        if not 0 <= int(token_id) < len(self._symbols):
            raise ValueError(
                f"Invalid value for argument `token_id`. Expected an int in [0, {len(self)}). "
                f"Received: token_id={token_id!r}"
            )
        return self._symbols[int(token_id)]

    def tokenize(self, text: str) -> list[str]:
        """Splits `text` into characters (`"char"`) or whitespace-separated words."""
        if not isinstance(text, str):
            raise TypeError(
                "Invalid value for argument `text`. Expected a string. "
                f"Received: text={text!r} of type {type(text).__name__}"
            )
        return list(text) if self.level == "char" else text.split()

    def encode(
        self,
        texts: str | Iterable[str],
        max_length: int | None = None,
        add_end: bool = True,
    ) -> np.ndarray:
        """Turns texts into a padded array of ids.

        Symbols not in the vocabulary become `UNK_ID`; one warning lists them.

        Args:
            texts: A string or a list of strings.
            max_length: The number of columns. Longer sequences (their end id
                included) are cut to this length. `None` uses the longest one.
            add_end: Whether to append `END_ID` to each sequence.

        Returns:
            An int32 array of shape `(len(texts), length)`, padded with `PAD_ID`.
        """
        texts = check_texts(texts)
        check_max_length(max_length)
        pieces = texts if self.level == "char" else list(map(str.split, texts))
        lengths = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))
        flat = list(itertools.chain.from_iterable(pieces))
        lookup = map(self._index.get, flat, itertools.repeat(UNK_ID, len(flat)))
        ids = np.fromiter(lookup, dtype=np.int32, count=len(flat))
        unknown_positions = np.flatnonzero(ids == UNK_ID)
        if len(unknown_positions):
            unknown = {flat[i] for i in unknown_positions} - {UNK_TOKEN}
            if unknown:
                self._warn_unknown(unknown)
        return padded_rows(ids, lengths, max_length, add_end)

    @staticmethod
    def _warn_unknown(unknown: set[str]) -> None:
        listed = sorted(unknown)
        shown = listed[:MAX_UNKNOWN_LISTED]
        more = len(listed) - len(shown)
        suffix = f" and {more} more" if more else ""
        warnings.warn(
            f"Vocabulary.encode: {len(listed)} unknown symbol(s) mapped to {UNK_TOKEN} "
            f"(id {UNK_ID}): {shown}{suffix}",
            stacklevel=3,
        )

    def decode(self, ids: Any, strip: bool = True) -> list[str]:
        """Turns rows of ids back into strings.

        Args:
            ids: An int array-like of shape `(n, length)`, or one sequence of
                shape `(length,)`.
            strip: When `True`, each row stops at its first `END_ID` and
                `PAD_ID`/`START_ID` are dropped. When `False`, every id is
                written out, reserved symbols included.

        Returns:
            A list of `n` strings.
        """
        array = id_rows(ids, len(self._symbols))
        separator = "" if self.level == "char" else " "
        symbols = self._symbols
        texts = []
        for row in array.tolist():
            if strip:
                row = strip_reserved(row)
            texts.append(separator.join(symbols[i] for i in row))
        return texts

    def get_config(self) -> dict[str, Any]:
        return {"tokens": list(self.tokens), "level": self.level}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Vocabulary:
        return cls(**config)
