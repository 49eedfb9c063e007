"""Greedy decoding: the most probable token at every step."""

from __future__ import annotations

from typing import Any

from keras import ops

from seq2seq.decoding.sampler import Sampler


class GreedySampler(Sampler):
    """Picks the arg-max token at every step.

    Greedy decoding is deterministic and costs one decoder step per output token.
    It can miss the most probable sequence when an early high-probability token
    leads to unlikely continuations; `BeamSampler` searches further.

    Example:
    >>> import numpy as np
    >>> from seq2seq.decoding import GreedySampler
    >>> from seq2seq.models import AttentionSeq2Seq
    >>> model = AttentionSeq2Seq(input_vocab_size=8, output_vocab_size=8,
    ...                          input_length=None, output_length=6, hidden_dim=8)
    >>> out = model.generate(np.array([[4, 5, 6, 2]]), strategy="greedy")
    >>> out["ids"].shape, out["attention"].shape
    ((1, 6), (1, 6, 4))
    """

    def get_next_token(self, logits: Any, seed: Any) -> tuple[Any, Any]:
        return ops.argmax(logits, axis=-1), seed
