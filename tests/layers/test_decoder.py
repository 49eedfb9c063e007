"""Decoder: free running equals step-by-step decoding, teacher forcing shifts the targets,
scheduled sampling mixes both, attention weights are distributions."""

import keras
import numpy as np
import pytest
from helpers import assert_close, run_layer_test, to_numpy

from seq2seq.layers import Decoder

BATCH, UNITS, OUT_DIM, OUT_LEN, IN_LEN, MEMORY_DIM, VOCAB = 2, 4, 2, 4, 5, 3, 7

pytestmark = pytest.mark.usefixtures("op_by_op")

VARIANTS = {
    "plain": {},
    "gru": {"cell": "gru"},
    "gru_peek": {"cell": "gru", "peek": True, "memory_dim": MEMORY_DIM},
    "peek": {"peek": True, "memory_dim": MEMORY_DIM},
    "attention": {"attention": True, "memory_dim": MEMORY_DIM},
    "deep_inner": {"depth": 2, "inner_broadcast_state": True},
    "deep_stack": {"depth": 3, "inner_broadcast_state": False},
    "token": {"output_vocab_size": VOCAB, "embedding_dim": 3},
    "token_attention": {
        "output_vocab_size": VOCAB,
        "embedding_dim": 3,
        "attention": True,
        "memory_dim": MEMORY_DIM,
    },
}


def _decoder(variant, **overrides):
    kwargs = {**VARIANTS[variant], **overrides}
    token = "output_vocab_size" in kwargs
    output_dim = VOCAB if token else OUT_DIM
    return Decoder(UNITS, output_dim=output_dim, feedback_dim=None if token else OUT_DIM, **kwargs)


def _bundle(decoder, seed=0):
    rng = np.random.default_rng(seed)
    bundle = {
        "context": rng.normal(size=(BATCH, MEMORY_DIM)),
        "memory": rng.normal(size=(BATCH, IN_LEN, MEMORY_DIM)),
    }
    if not decoder.token_mode:
        bundle["start"] = rng.normal(size=(BATCH, OUT_DIM))
    return {k: keras.ops.convert_to_tensor(v.astype("float32")) for k, v in bundle.items()} | {
        "mask": None
    }


def _states(decoder, seed=1):
    rng = np.random.default_rng(seed)
    layers = 1 if decoder.inner_broadcast_state else decoder.depth
    num = len(decoder.cells[0].state_size)
    return [
        [
            keras.ops.convert_to_tensor(rng.normal(size=(BATCH, UNITS)).astype("float32"))
            for _ in range(num)
        ]
        for _ in range(layers)
    ]


def _targets(decoder, seed=2):
    rng = np.random.default_rng(seed)
    if decoder.token_mode:
        return rng.integers(1, VOCAB, size=(BATCH, OUT_LEN)).astype("int32")
    return rng.normal(size=(BATCH, OUT_LEN, OUT_DIM)).astype("float32")


def _built(variant, **overrides):
    decoder = _decoder(variant, **overrides)
    decoder.build()
    return decoder, _bundle(decoder), _states(decoder)


def test_shapes_params_and_config():
    bundle_holder = {}

    def call(layer):
        if not layer.built:
            layer.build()
        bundle_holder.setdefault("bundle", _bundle(layer))
        return layer(bundle_holder["bundle"], _states(layer), length=OUT_LEN)["outputs"]

    run_layer_test(
        Decoder,
        {
            "units": UNITS,
            "output_dim": OUT_DIM,
            "feedback_dim": OUT_DIM,
            "depth": 2,
            "peek": True,
            "memory_dim": MEMORY_DIM,
        },
        call,
        [(BATCH, OUT_LEN, OUT_DIM)],
        # Layer 0 reads [previous output; context], layer 1 reads layer 0; then Dense(units -> 2).
        expected_num_params=4 * UNITS * (OUT_DIM + MEMORY_DIM + UNITS + 1)
        + 4 * UNITS * (2 * UNITS + 1)
        + UNITS * OUT_DIM
        + OUT_DIM,
    )


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_free_running_equals_step_by_step(variant):
    """`call` without targets is `step` applied `length` times to fed-back outputs."""
    decoder, bundle, states = _built(variant)
    result = decoder(bundle, states, length=OUT_LEN)
    outputs = to_numpy(result["outputs"])
    assert outputs.shape == (BATCH, OUT_LEN, VOCAB if decoder.token_mode else OUT_DIM)

    prepared = decoder.prepare(bundle)
    features = decoder.start_features(prepared, BATCH)
    step_outputs, step_weights = [], []
    for _ in range(OUT_LEN):
        out, states, weights = decoder.step(features, states, prepared)
        step_outputs.append(to_numpy(out))
        step_weights.append(weights)
        features = decoder.feedback(out)
    np.testing.assert_allclose(outputs, np.stack(step_outputs, 1), atol=1e-5)
    if decoder.attention:
        assert_close(result["attention"], np.stack(to_numpy(step_weights), 1), atol=1e-6)
    else:
        assert result["attention"] is None and step_weights[0] is None


@pytest.mark.parametrize("variant", ["token", "token_attention"])
def test_token_step_gathers_the_projected_embeddings(variant):
    """`token_step(ids)` on a bundle prepared for generation is `step(embed(ids))`, at every
    step of free running; only that bundle holds the `(vocab, gates * units)` table."""
    decoder, bundle, states = _built(variant)
    assert "feature_table" not in decoder.prepare(bundle)
    prepared = decoder.prepare(bundle, generation=True)
    assert tuple(prepared["feature_table"].shape) == (VOCAB, 4 * UNITS)
    ids = np.array([1, VOCAB - 1], dtype="int32")
    table_states, step_states = states, states
    for _ in range(OUT_LEN):
        table_out, table_states, table_weights = decoder.token_step(ids, table_states, prepared)
        step_out, step_states, step_weights = decoder.step(
            decoder.embed(ids), step_states, prepared
        )
        assert_close(table_out, step_out, atol=1e-6)
        if decoder.attention:
            assert_close(table_weights, step_weights, atol=1e-6)
        ids = np.argmax(to_numpy(step_out), axis=-1).astype("int32")
    assert_close(table_states[0][1], step_states[0][1], atol=1e-6)


@pytest.mark.parametrize("variant", ["plain", "attention", "deep_stack", "token"])
def test_teacher_forcing_feeds_the_previous_target(variant):
    """Step t reads target t-1: changing target t changes steps after t, never steps <= t."""
    decoder, bundle, states = _built(variant)
    targets = _targets(decoder)
    base = to_numpy(decoder(bundle, states, targets=targets)["outputs"])
    free = to_numpy(decoder(bundle, states, length=OUT_LEN)["outputs"])
    np.testing.assert_allclose(base[:, 0], free[:, 0], atol=1e-5)  # step 0 reads the start value
    for t in range(OUT_LEN):
        changed = targets.copy()
        changed[:, t] = (
            (changed[:, t] % (VOCAB - 1)) + 1 if decoder.token_mode else changed[:, t] + 1.0
        )
        outputs = to_numpy(decoder(bundle, states, targets=changed)["outputs"])
        np.testing.assert_allclose(outputs[:, : t + 1], base[:, : t + 1], atol=1e-6)
        if t + 1 < OUT_LEN:
            assert np.abs(outputs[:, t + 1] - base[:, t + 1]).min() > 1e-6


@pytest.mark.parametrize("variant", ["plain", "peek", "token_attention"])
def test_teacher_forcing_on_own_outputs_equals_free_running(variant):
    decoder, bundle, states = _built(variant)
    free = to_numpy(decoder(bundle, states, length=OUT_LEN)["outputs"])
    targets = free.argmax(-1).astype("int32") if decoder.token_mode else free
    forced = to_numpy(decoder(bundle, states, targets=targets)["outputs"])
    np.testing.assert_allclose(forced, free, atol=1e-5)


@pytest.mark.parametrize("variant", ["plain", "token_attention"])
def test_scheduled_sampling_mixes_targets_and_own_outputs(variant):
    decoder, bundle, states = _built(variant)
    targets = _targets(decoder)
    free = to_numpy(decoder(bundle, states, length=OUT_LEN)["outputs"])
    forced = to_numpy(decoder(bundle, states, targets=targets)["outputs"])
    assert not np.allclose(free[:, 1:], forced[:, 1:], atol=1e-4)
    ones = np.ones((OUT_LEN, BATCH, 1), "float32")
    own = decoder(bundle, states, targets=targets, sample_mask=ones)["outputs"]
    assert_close(own, free, atol=1e-5)
    teacher = decoder(bundle, states, targets=targets, sample_mask=0 * ones)["outputs"]
    assert_close(teacher, forced, atol=1e-5)
    # Own prediction at step 1 only: steps 0-1 as free running, step 2 differs from both.
    mixed_mask = np.zeros_like(ones)
    mixed_mask[1] = 1.0
    mixed = to_numpy(decoder(bundle, states, targets=targets, sample_mask=mixed_mask)["outputs"])
    np.testing.assert_allclose(mixed[:, :2], free[:, :2], atol=1e-5)
    assert np.all(np.isfinite(mixed))
    assert not np.allclose(mixed[:, 2], forced[:, 2], atol=1e-5)


def test_attention_weights_are_distributions_over_real_positions():
    decoder, bundle, states = _built("attention")
    mask = np.array([[True, True, True, False, False], [True] * IN_LEN])
    bundle["mask"] = keras.ops.convert_to_tensor(mask)
    weights = to_numpy(decoder(bundle, states, length=OUT_LEN)["attention"])
    assert weights.shape == (BATCH, OUT_LEN, IN_LEN)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(weights[0, :, 3:], 0.0)
    # The query is the decoder's previous state, so the weights move from step to step.
    assert np.abs(weights[:, 1:] - weights[:, :-1]).max() > 1e-4


def test_peek_reads_the_context_at_every_step():
    decoder, bundle, states = _built("peek")
    base = to_numpy(decoder(bundle, states, length=OUT_LEN)["outputs"])
    other = dict(bundle, context=bundle["context"] + 1.0)
    changed = to_numpy(decoder(other, states, length=OUT_LEN)["outputs"])
    assert np.abs(changed - base).min() > 1e-6
    # Zero context rows in the first kernel make the context irrelevant.
    kernel = to_numpy(decoder.cells[0].kernel)
    kernel[OUT_DIM:] = 0.0
    decoder.cells[0].kernel.assign(kernel)
    assert_close(
        decoder(other, states, length=OUT_LEN)["outputs"],
        decoder(bundle, states, length=OUT_LEN)["outputs"],
    )


@pytest.mark.parametrize("inner", [True, False])
def test_stack_state_threading(inner):
    decoder, bundle, states = _built("deep_stack", inner_broadcast_state=inner)
    assert len(states) == (1 if inner else 3)
    prepared = decoder.prepare(bundle)
    _, new_states, _ = decoder.step(decoder.start_features(prepared, BATCH), states, prepared)
    assert len(new_states) == len(states)


def test_inner_broadcast_is_the_standard_stack_at_depth_one():
    threaded, bundle, states = _built("plain", inner_broadcast_state=True)
    standard = _decoder("plain", inner_broadcast_state=False)
    standard.build()
    standard.set_weights(threaded.get_weights())
    assert_close(threaded(bundle, states, length=OUT_LEN), standard(bundle, states, length=OUT_LEN))


def test_dropout_between_layers_only_in_training():
    decoder, bundle, states = _built("deep_stack", dropout=0.5)
    inference = to_numpy(decoder(bundle, states, length=OUT_LEN)["outputs"])
    assert_close(decoder(bundle, states, length=OUT_LEN, training=False)["outputs"], inference)
    first = to_numpy(decoder(bundle, states, length=OUT_LEN, training=True)["outputs"])
    second = to_numpy(decoder(bundle, states, length=OUT_LEN, training=True)["outputs"])
    assert not np.allclose(first, inference, atol=1e-4)
    assert not np.allclose(first, second, atol=1e-4)


@pytest.mark.parametrize("variant", ["plain", "token_attention"])
def test_readout_dropout_at_depth_one_with_and_without_teacher(variant):
    decoder, bundle, states = _built(variant, dropout=0.5)
    targets = keras.ops.convert_to_tensor(_targets(decoder))
    for kwargs in ({"length": OUT_LEN}, {"targets": targets}):
        inference = to_numpy(decoder(bundle, states, **kwargs)["outputs"])
        trained = to_numpy(decoder(bundle, states, training=True, **kwargs)["outputs"])
        assert trained.shape == inference.shape
        assert not np.allclose(trained, inference, atol=1e-4)
    # Without dropout, training and inference agree under teacher forcing.
    plain, bundle, states = _built(variant)
    assert_close(
        plain(bundle, states, targets=targets, training=True)["outputs"],
        plain(bundle, states, targets=targets)["outputs"],
    )


def test_unroll_gives_the_same_outputs():
    rolled, bundle, states = _built("attention")
    unrolled = _decoder("attention", unroll=True)
    unrolled.build()
    unrolled.set_weights(rolled.get_weights())
    targets = _targets(rolled)
    assert_close(unrolled(bundle, states, length=OUT_LEN), rolled(bundle, states, length=OUT_LEN))
    assert_close(unrolled(bundle, states, targets=targets), rolled(bundle, states, targets=targets))
