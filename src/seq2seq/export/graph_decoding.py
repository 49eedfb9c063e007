"""Greedy and beam search written for export: TensorFlow graphs with dynamic batch and length.

The samplers of `seq2seq.decoding` read the batch size from static shapes (one compiled
function per shape); an exported graph takes any batch and input length, so these
loops read them with `tf.shape`. Each is the same search as its sampler, step for
step (same masking of the reserved ids, same tie-breaking, same stopping rule), on the
model's public generation contract (`generation_cache`, `generation_step`,
`generation_outputs`); tests/export checks that the exported graphs give the ids of
`model.generate`. `tf.argmax` replaces `keras.ops.argmax`, whose TensorFlow version
adds bit operations that ONNX lacks.
"""

from __future__ import annotations

from typing import Any

import keras

from seq2seq.conventions import END_ID, PAD_ID, START_ID
from seq2seq.decoding.sampler import NEG_INF, mask_reserved, write_step


def _with_states(cache: dict[str, Any], states: Any) -> dict[str, Any]:
    return {**cache, "states": states}


def greedy_search(model: keras.Model, x: Any, max_length: int) -> dict[str, Any]:
    """Greedy decoding of token ids `x` `(batch, time)` for `max_length` steps at most.

    Returns:
        Dict of `ids` `(batch, max_length)` int32 (padded with 0 after the end id),
        `log_probs` `(batch,)` and, for attention models, `attention`
        `(batch, max_length, time)`.
    """
    import tensorflow as tf

    batch, in_len = tf.shape(x)[0], tf.shape(x)[1]
    cache = model.generation_cache(x)
    with_attention = bool(model.has_attention)

    def cond(index, prev, states, ids, log_probs, finished, attention):
        return tf.logical_and(index < max_length, tf.logical_not(tf.reduce_all(finished)))

    def body(index, prev, states, ids, log_probs, finished, attention):
        logits, new_cache, weights = model.generation_step(prev, _with_states(cache, states), index)
        logits = tf.cast(logits, "float32")
        token = tf.argmax(mask_reserved(logits), axis=-1, output_type=tf.int32)
        token = tf.where(finished, PAD_ID, token)
        chosen = tf.gather(tf.nn.log_softmax(logits, axis=-1), token, batch_dims=1)
        log_probs = log_probs + tf.where(finished, 0.0, chosen)
        ids = write_step(ids, index, token)
        if with_attention:
            alive = tf.cast(tf.logical_not(finished), "float32")[:, None]
            attention = write_step(attention, index, tf.cast(weights, "float32") * alive)
        finished = tf.logical_or(finished, tf.equal(token, END_ID))
        return index + 1, token, new_cache["states"], ids, log_probs, finished, attention

    loop_vars = (
        tf.constant(0),
        tf.fill([batch], START_ID),
        cache["states"],
        tf.zeros([batch, max_length], tf.int32),
        tf.zeros([batch], tf.float32),
        tf.zeros([batch], tf.bool),
        tf.zeros([batch, max_length, in_len if with_attention else 1], tf.float32),
    )
    _, _, _, ids, log_probs, _, attention = tf.while_loop(cond, body, loop_vars)
    result = {"ids": ids, "log_probs": log_probs}
    if with_attention:
        result["attention"] = attention
    return result


def beam_search(
    model: keras.Model, x: Any, max_length: int, beam_width: int, length_penalty: float
) -> dict[str, Any]:
    """Beam search as `seq2seq.decoding.BeamSampler`, for token ids `x` `(batch, time)`.

    Returns:
        Dict of the best beam's `ids` `(batch, max_length)` int32, `log_probs`
        `(batch,)` and `scores` `(batch,)` (length-normalised).
    """
    import tensorflow as tf

    width = beam_width
    batch = tf.shape(x)[0]
    flat = batch * width
    cache = model.generation_cache(x)
    cache = {
        **cache,
        "states": keras.tree.map_structure(lambda t: tf.repeat(t, width, axis=0), cache["states"]),
        "constants": keras.tree.map_structure(
            lambda t: tf.repeat(t, width, axis=0), cache["constants"]
        ),
    }
    first = tf.equal(tf.range(flat) % width, 0)
    log_probs = tf.where(first, 0.0, NEG_INF)
    parents = tf.range(batch)[:, None] * width  # (batch, 1)

    def normaliser(lengths):
        return tf.pow((5.0 + tf.cast(lengths, "float32")) / 6.0, length_penalty)

    def cond(index, prev, states, ids, log_probs, scores, lengths, finished):
        return tf.logical_and(index < max_length, tf.logical_not(tf.reduce_all(finished)))

    def body(index, prev, states, ids, log_probs, scores, lengths, finished):
        logits, new_cache, _ = model.generation_step(prev, _with_states(cache, states), index)
        step_log_probs = tf.nn.log_softmax(tf.cast(logits, "float32"), axis=-1)
        vocab = step_log_probs.shape[-1]
        pad_only = tf.where(tf.equal(tf.range(vocab), PAD_ID), 0.0, NEG_INF)
        step = tf.where(finished[:, None], pad_only[None, :], mask_reserved(step_log_probs))
        candidates = log_probs[:, None] + step  # (flat, vocab)
        candidate_lengths = lengths + tf.where(finished, 0, 1)
        candidate_scores = candidates / normaliser(candidate_lengths)[:, None]
        top_scores, top = tf.math.top_k(
            tf.reshape(candidate_scores, [batch, width * vocab]), k=width
        )
        source = tf.reshape(parents + top // vocab, [flat])  # each survivor's parent row
        token = tf.reshape(top % vocab, [flat])
        log_probs = tf.gather(tf.reshape(candidates, [flat * vocab]), source * vocab + token)
        states = keras.tree.map_structure(
            lambda t: tf.gather(t, source, axis=0), new_cache["states"]
        )
        was_finished = tf.gather(finished, source)
        ids = write_step(tf.gather(ids, source), index, token)
        finished = tf.logical_or(was_finished, tf.equal(token, END_ID))
        lengths = tf.gather(candidate_lengths, source)
        scores = tf.reshape(top_scores, [flat])
        return index + 1, token, states, ids, log_probs, scores, lengths, finished

    loop_vars = (
        tf.constant(0),
        tf.fill([flat], START_ID),
        cache["states"],
        tf.zeros([flat, max_length], tf.int32),
        log_probs,
        log_probs,
        tf.zeros([flat], tf.int32),
        tf.zeros([flat], tf.bool),
    )
    _, _, _, ids, log_probs, scores, _, _ = tf.while_loop(cond, body, loop_vars)
    scores = tf.reshape(scores, [batch, width])
    # The first of the best scores, as `BeamSampler`'s stable sort picks it.
    rows = tf.range(batch) * width + tf.argmax(scores, axis=-1, output_type=tf.int32)
    return {
        "ids": tf.gather(ids, rows),
        "log_probs": tf.gather(log_probs, rows),
        "scores": tf.gather(tf.reshape(scores, [flat]), rows),
    }


def free_running(model: keras.Model, x: Any, length: int) -> dict[str, Any]:
    """The outputs `model.predict` gives (`(batch, length, output_dim)`), for real-valued models."""
    result = model.generation_outputs(x, length)
    outputs = {"outputs": result["outputs"]}
    if result.get("attention") is not None:
        outputs["attention"] = result["attention"]
    return outputs
