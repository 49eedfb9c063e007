"""A SentencePiece vocabulary of subwords, stored inside the model that uses it."""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Iterable
from typing import Any

import numpy as np

from seq2seq.backend import choose_default_backend
from seq2seq.conventions import SUBWORD_LEVEL
from seq2seq.data.vocabulary import (
    END_ID,
    END_TOKEN,
    PAD_ID,
    PAD_TOKEN,
    START_ID,
    START_TOKEN,
    UNK_ID,
    UNK_TOKEN,
    Vocabulary,
    check_max_length,
    check_texts,
    id_rows,
    padded_rows,
    strip_reserved,
)

# Keras is imported only for the serialisation registry, once the backend is chosen.
choose_default_backend()

import keras  # noqa: E402

LEVEL = SUBWORD_LEVEL
Texts = str | Iterable[str]
DEFAULT_VOCAB_SIZE = 8000
# SentencePiece trains on at most this many texts, a random sample of a larger corpus.
MAX_TRAINING_TEXTS = 1_000_000


def _sentencepiece():
    try:
        import sentencepiece
    except ImportError:  # pragma: no cover - a declared dependency
        raise ImportError(
            "The subword level needs the `sentencepiece` package: pip install sentencepiece"
        ) from None
    return sentencepiece


@keras.saving.register_keras_serializable(package="seq2seq")
class SubwordVocabulary:
    """Splits texts into SentencePiece subwords and maps them to integer ids.

    The reserved ids are those of `Vocabulary`: `PAD_ID` (`"<pad>"`),
    `START_ID` (`"<s>"`), `END_ID` (`"</s>"`) and `UNK_ID` (`"<unk>"`); the
    learnt pieces follow from id 4. The trained SentencePiece model (a
    serialized protocol buffer, data only) is the whole state: `get_config()`
    holds it base64-encoded, so a model that keeps the vocabulary in its config
    carries it inside its `.keras` file and `seq2seq predict` needs nothing else.

    Args:
        model_proto: The serialized SentencePiece model, as `bytes` or as the
            base64 text `get_config()` writes. Its reserved ids must be the ones
            above (`build` trains such a model).

    Example:

    >>> from seq2seq.data.subword_vocabulary import SubwordVocabulary
    >>> vocab = SubwordVocabulary.build(["low lower lowest"] * 50, vocab_size=20)
    >>> vocab.decode(vocab.encode(["lower low"]))
    ['lower low']
    """

    level = LEVEL

    def __init__(self, model_proto: bytes | str):
        if isinstance(model_proto, str):
            try:
                model_proto = base64.b64decode(model_proto.encode("ascii"), validate=True)
            except (binascii.Error, UnicodeEncodeError):
                raise ValueError(
                    "Invalid value for argument `model_proto`. Expected the bytes of a "
                    "SentencePiece model or their base64 text. Received: a string that is not "
                    "base64"
                ) from None
        if not isinstance(model_proto, bytes) or not model_proto:
            raise TypeError(
                "Invalid value for argument `model_proto`. Expected the bytes of a "
                f"SentencePiece model. Received: model_proto of type {type(model_proto).__name__}"
            )
        processor = _sentencepiece().SentencePieceProcessor()
        try:
            processor.LoadFromSerializedProto(model_proto)
        except (RuntimeError, OSError) as error:
            raise ValueError(
                "Invalid value for argument `model_proto`. Expected a serialized SentencePiece "
                f"model. Received: {len(model_proto)} bytes that do not load ({error})"
            ) from None
        reserved = {PAD_ID: PAD_TOKEN, START_ID: START_TOKEN, END_ID: END_TOKEN, UNK_ID: UNK_TOKEN}
        found = {i: processor.id_to_piece(i) for i in reserved if i < processor.get_piece_size()}
        if found != reserved:
            raise ValueError(
                "Invalid value for argument `model_proto`. Expected a SentencePiece model with "
                f"the reserved pieces {reserved}. Received: a model with {found}"
            )
        self.model_proto = model_proto
        self._processor = processor

    @classmethod
    def build(
        cls,
        texts: Iterable[str],
        vocab_size: int = DEFAULT_VOCAB_SIZE,
        model_type: str = "unigram",
        seed: int = 0,
    ) -> SubwordVocabulary:
        """Trains a SentencePiece model on `texts`, in memory.

        The same texts and arguments always give the same model. A corpus
        larger than `MAX_TRAINING_TEXTS` texts is sampled (with `seed`), so
        `texts` may be a stream over a large file.

        Args:
            texts: The strings to learn pieces from (an iterable, read once).
            vocab_size: The number of ids, the four reserved ones included. A
                small corpus may give fewer (every piece it has).
            model_type: SentencePiece's algorithm: `"unigram"` or `"bpe"`.
            seed: Seeds the sample of a large corpus.

        Returns:
            A new `SubwordVocabulary`.
        """
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 5:
            raise ValueError(
                "Invalid value for argument `vocab_size`. Expected an int >= 5 (4 reserved ids "
                f"and at least one piece). Received: vocab_size={vocab_size!r}"
            )
        if model_type not in ("unigram", "bpe"):
            raise ValueError(
                "Invalid value for argument `model_type`. Expected 'unigram' or 'bpe'. "
                f"Received: model_type={model_type!r}"
            )
        spm = _sentencepiece()
        seen = [0]

        def sentences():
            for text in texts:
                if not isinstance(text, str):
                    raise TypeError(
                        "Invalid value for argument `texts`. Expected strings. "
                        f"Received: {text!r} of type {type(text).__name__}"
                    )
                seen[0] += 1
                yield text

        model = io.BytesIO()
        spm.set_random_generator_seed(seed)
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=sentences(),
                model_writer=model,
                vocab_size=vocab_size,
                model_type=model_type,
                pad_id=PAD_ID,
                bos_id=START_ID,
                eos_id=END_ID,
                unk_id=UNK_ID,
                pad_piece=PAD_TOKEN,
                bos_piece=START_TOKEN,
                eos_piece=END_TOKEN,
                unk_piece=UNK_TOKEN,
                character_coverage=1.0,
                # A small corpus gives the pieces it has rather than failing.
                hard_vocab_limit=False,
                # Texts come back exactly as written (no Unicode normalisation).
                normalization_rule_name="identity",
                input_sentence_size=MAX_TRAINING_TEXTS,
                shuffle_input_sentence=True,
                num_threads=1,
                minloglevel=2,
            )
        except RuntimeError as error:
            if not seen[0]:
                raise ValueError(
                    "Invalid value for argument `texts`. Expected at least one text. Received: none"
                ) from None
            raise ValueError(f"SentencePiece could not train on the texts: {error}") from None
        return cls(model.getvalue())

    def __len__(self) -> int:
        return self._processor.get_piece_size()

    def __contains__(self, symbol: object) -> bool:
        return isinstance(symbol, str) and (
            symbol == UNK_TOKEN or self._processor.piece_to_id(symbol) != UNK_ID
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SubwordVocabulary):
            return NotImplemented
        return self.model_proto == other.model_proto

    __hash__ = None

    def __repr__(self) -> str:
        return f"SubwordVocabulary(size={len(self)})"

    @property
    def symbols(self) -> list[str]:
        """All pieces in id order, the reserved ones first."""
        return [self._processor.id_to_piece(i) for i in range(len(self))]

    def token_to_id(self, token: str) -> int:
        """Returns the id of the piece `token`, or `UNK_ID` when it is unknown."""
        return self._processor.piece_to_id(token)

    def id_to_token(self, token_id: int) -> str:
        """Returns the piece with id `token_id`."""
        if not 0 <= int(token_id) < len(self):
            raise ValueError(
                f"Invalid value for argument `token_id`. Expected an int in [0, {len(self)}). "
                f"Received: token_id={token_id!r}"
            )
        return self._processor.id_to_piece(int(token_id))

    def tokenize(self, text: str) -> list[str]:
        """Splits `text` into its pieces (a word's first piece starts with `"▁"`)."""
        if not isinstance(text, str):
            raise TypeError(
                "Invalid value for argument `text`. Expected a string. "
                f"Received: text={text!r} of type {type(text).__name__}"
            )
        return self._processor.encode(text, out_type=str)

    def encode(
        self, texts: Texts, max_length: int | None = None, add_end: bool = True
    ) -> np.ndarray:
        """Turns texts into a padded array of ids, with the arguments of `Vocabulary.encode`.

        Characters the model never saw become `UNK_ID`; one warning lists them.
        """
        texts = check_texts(texts)
        check_max_length(max_length)
        rows = self._processor.encode(texts)
        lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
        ids = np.fromiter(
            (i for row in rows for i in row), dtype=np.int32, count=int(lengths.sum())
        )
        if (ids == UNK_ID).any():
            self._warn_unknown(texts, rows)
        return padded_rows(ids, lengths, max_length, add_end)

    def _warn_unknown(self, texts: list[str], rows: list[list[int]]) -> None:
        unknown = set()
        for text, row in zip(texts, rows, strict=True):
            if UNK_ID in row:
                # A character is unknown when it alone encodes to `UNK_ID`.
                chars = set(text) - {" "}
                unknown.update(c for c in chars if UNK_ID in self._processor.encode(c))
        Vocabulary._warn_unknown(unknown)

    def decode(self, ids: Any, strip: bool = True) -> list[str]:
        """Turns rows of ids back into text.

        Args:
            ids: An int array-like of shape `(n, length)`, or one sequence of
                shape `(length,)`.
            strip: When `True`, each row stops at its first `END_ID`, reserved
                ids are dropped and the pieces are joined into text. When
                `False`, every piece is written out, separated by spaces.

        Returns:
            A list of `n` strings.
        """
        array = id_rows(ids, len(self))
        if not len(array):
            return []
        if not strip:
            return [" ".join(map(self._processor.id_to_piece, row)) for row in array.tolist()]
        return self._processor.decode([strip_reserved(row) for row in array.tolist()])

    def get_config(self) -> dict[str, Any]:
        return {"model_proto": base64.b64encode(self.model_proto).decode("ascii")}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SubwordVocabulary:
        return cls(**config)
