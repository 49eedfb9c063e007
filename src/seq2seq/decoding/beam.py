"""Beam search with GNMT length normalisation."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from seq2seq.arguments import check_length_penalty, check_positive
from seq2seq.conventions import END_ID, PAD_ID, START_ID
from seq2seq.decoding.sampler import (
    NEG_INF,
    NextFn,
    Sampler,
    batch_size_of,
    mask_reserved,
    split_cache,
    tile,
    write_step,
)


class BeamSampler(Sampler):
    """Keeps the `beam_width` best partial sequences of each input at every step.

    The cache's `states` and `constants` (decoder states, encoder memory,
    attention keys, mask) are tiled to `batch * beam_width` rows once, before the
    loop; its `shared` tensors have no batch axis and are not. At each step every beam is
    extended by every token, and the `beam_width` best candidates of each input
    survive; the states of their parent beams are gathered. A beam that has
    emitted the end id stays finished: its only extension is the padding id at
    log-probability 0, so it keeps its score and competes with the open beams.

    Candidates are ranked by the length-normalised score of Wu et al. (2016), as in
    joeynmt: `log_prob / ((5 + length) / 6) ** length_penalty`, where `length`
    counts the emitted tokens (end id included). With `length_penalty=0` the score
    is the plain log-probability; larger values favour longer sequences. The
    search stops when every beam has finished or after `max_length` steps, and
    the best-scoring beam is returned.

    Args:
        beam_width: Int >= 1. `beam_width=1` is greedy decoding.
        length_penalty: Number >= 0, the exponent `alpha` above.
        return_all_beams: Also return every beam, best first.

    Returns:
        The base class's dict (the best beam's `ids`, `log_probs`, `attention`)
        plus `scores` `(batch,)` (normalised) and, with `return_all_beams`,
        `all_ids` `(batch, beam_width, max_length)`, `all_log_probs` and
        `all_scores` `(batch, beam_width)`.

    Example:
    >>> import numpy as np
    >>> from seq2seq.decoding import BeamSampler
    >>> from seq2seq.models import AttentionSeq2Seq
    >>> model = AttentionSeq2Seq(input_vocab_size=8, output_vocab_size=8,
    ...                          input_length=None, output_length=6, hidden_dim=8)
    >>> out = model.generate(np.array([[4, 5, 6, 2]]), strategy="beam", beam_width=3)
    >>> out["ids"].shape, out["log_probs"].shape
    ((1, 6), (1,))
    """

    def __init__(
        self, beam_width: int = 5, length_penalty: float = 0.0, return_all_beams: bool = False
    ):
        self.beam_width = check_positive("beam_width", beam_width)
        self.length_penalty = check_length_penalty(length_penalty)
        self.return_all_beams = bool(return_all_beams)

    def normaliser(self, lengths: Any) -> Any:
        """`((5 + lengths) / 6) ** length_penalty` (GNMT, joeynmt)."""
        lengths = ops.cast(lengths, "float32")
        return ops.power((5.0 + lengths) / 6.0, self.length_penalty)

    def __call__(
        self,
        next_fn: NextFn,
        cache: dict,
        max_length: int,
        attention_length: int | None = None,
        seed: Any = None,
    ) -> dict[str, Any]:
        states, constants, shared = split_cache(cache)
        width = self.beam_width
        batch = batch_size_of((states, constants))
        flat = batch * width
        states, constants = tile(states, width), tile(constants, width)
        index = ops.convert_to_tensor(0, dtype="int32")
        prev = ops.full((flat,), START_ID, dtype="int32")
        ids = ops.zeros((flat, max_length), dtype="int32")
        # Only the first beam of each input is open at step 0, so the beams start distinct.
        first = ops.equal(ops.arange(flat, dtype="int32") % width, 0)
        log_probs = ops.where(first, 0.0, NEG_INF)
        lengths = ops.zeros((flat,), dtype="int32")
        finished = ops.zeros((flat,), dtype="bool")
        attention = ops.zeros((flat, max_length, attention_length or 1), dtype="float32")
        parents = ops.arange(batch, dtype="int32")[:, None] * width  # (batch, 1)

        def cond(index, prev, states, ids, log_probs, scores, lengths, finished, attention):
            return ops.logical_and(ops.less(index, max_length), ops.logical_not(ops.all(finished)))

        def body(index, prev, states, ids, log_probs, scores, lengths, finished, attention):
            step_cache = {"states": states, "constants": constants, "shared": shared}
            logits, step_cache, weights = next_fn(prev, step_cache, index)
            states = step_cache["states"]
            step_log_probs = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
            vocab = step_log_probs.shape[-1]
            pad_only = ops.where(ops.equal(ops.arange(vocab, dtype="int32"), PAD_ID), 0.0, NEG_INF)
            step = ops.where(finished[:, None], pad_only[None, :], mask_reserved(step_log_probs))
            candidates = log_probs[:, None] + step  # (flat, vocab)
            candidate_lengths = lengths + ops.where(finished, 0, 1)
            candidate_scores = candidates / self.normaliser(candidate_lengths)[:, None]
            top_scores, top = ops.top_k(
                ops.reshape(candidate_scores, (batch, width * vocab)), k=width
            )
            top = ops.cast(top, "int32")
            # The row of each survivor's parent beam.
            source = ops.reshape(parents + top // vocab, (flat,))
            token = ops.reshape(top % vocab, (flat,))

            def gather(tensor):
                return ops.take(tensor, source, axis=0)

            log_probs = ops.take(ops.reshape(candidates, (flat * vocab,)), source * vocab + token)
            states = keras.tree.map_structure(gather, states)
            was_finished = gather(finished)
            ids = write_step(gather(ids), index, token)
            if attention_length is not None:
                alive = ops.cast(ops.logical_not(was_finished), "float32")[:, None]
                attention = write_step(
                    gather(attention), index, gather(ops.cast(weights, "float32")) * alive
                )
            finished = ops.logical_or(was_finished, ops.equal(token, END_ID))
            scores = ops.reshape(top_scores, (flat,))
            lengths = gather(candidate_lengths)
            return index + 1, token, states, ids, log_probs, scores, lengths, finished, attention

        loop_vars = (index, prev, states, ids, log_probs, log_probs, lengths, finished, attention)
        _, _, _, ids, log_probs, scores, _, _, attention = ops.while_loop(cond, body, loop_vars)

        scores = ops.reshape(scores, (batch, width))
        order = ops.cast(ops.argsort(-scores, axis=-1), "int32")  # (batch, width), best first
        rows = ops.reshape(parents + order, (flat,))

        def ranked(tensor):
            tensor = ops.take(tensor, rows, axis=0)
            return ops.reshape(tensor, (batch, width) + tuple(tensor.shape[1:]))

        all_ids, all_log_probs = ranked(ids), ranked(log_probs)
        all_scores = ranked(ops.reshape(scores, (flat,)))
        result = {
            "ids": all_ids[:, 0],
            "log_probs": all_log_probs[:, 0],
            "scores": all_scores[:, 0],
        }
        if attention_length is not None:
            result["attention"] = ranked(attention)[:, 0]
        if self.return_all_beams:
            result.update(all_ids=all_ids, all_log_probs=all_log_probs, all_scores=all_scores)
        return result

    def get_config(self) -> dict[str, Any]:
        return {
            "beam_width": self.beam_width,
            "length_penalty": self.length_penalty,
            "return_all_beams": self.return_all_beams,
        }
