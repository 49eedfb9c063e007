"""Mixed precision (`mixed_bfloat16`): bfloat16 products, float32 states, weights and loss."""

import keras
import numpy as np
import pytest
from helpers import onednn_bfloat16
from keras import ops

from seq2seq.conventions import START_ID
from seq2seq.layers import Decoder, Encoder, LSTMCell, Recurrent
from seq2seq.models import AttentionSeq2Seq, Seq2Seq, SimpleSeq2Seq

MODELS = [SimpleSeq2Seq, Seq2Seq, AttentionSeq2Seq]
POLICY = "mixed_bfloat16"


def _model(cls, token, dtype=POLICY, **options):
    if token:
        return cls(
            input_vocab_size=12,
            output_vocab_size=12,
            input_length=6,
            output_length=6,
            hidden_dim=16,
            embedding_dim=8,
            dtype=dtype,
            **options,
        )
    return cls(
        input_dim=3, output_dim=2, input_length=6, output_length=5, hidden_dim=16, dtype=dtype
    )


def _data(token):
    rng = np.random.default_rng(0)
    if token:
        x = rng.integers(3, 12, (16, 6)).astype("int32")
        return x, x[:, ::-1].copy()
    return rng.normal(size=(16, 6, 3)).astype("float32"), rng.normal(size=(16, 5, 2)).astype(
        "float32"
    )


@pytest.mark.parametrize("token", [True, False], ids=["tokens", "real"])
@pytest.mark.parametrize("cls", MODELS, ids=lambda cls: cls.__name__)
def test_trains_generates_and_keeps_its_policy_through_a_file(cls, token, keras_path):
    model = _model(cls, token)
    x, y = _data(token)
    model.compile(optimizer="adam", loss=None if token else "mse")
    before = [np.array(w) for w in model.trainable_weights]
    history = model.fit([x, y] if token and cls is not SimpleSeq2Seq else x, y, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    # The weights (and so the optimizer's variables) stay float32 and move.
    assert {w.dtype for w in model.trainable_weights} == {"float32"}
    assert any(not np.array_equal(b, np.array(w)) for b, w in zip(before, model.trainable_weights))
    if token:
        expected = model.generate(x)["ids"]
    else:
        expected = model.predict(x, verbose=0)

    model.save(keras_path)
    assert keras.config.dtype_policy().name == "float32"
    loaded = keras.saving.load_model(keras_path)
    # Every layer, not only the model, is rebuilt under the stored policy.
    assert {layer.dtype_policy.name for layer in loaded._flatten_layers()} == {POLICY}
    if token:
        np.testing.assert_array_equal(loaded.generate(x)["ids"], expected)
    else:
        np.testing.assert_array_equal(loaded.predict(x, verbose=0), expected)


def test_attention_weights_and_states_are_float32():
    model = _model(AttentionSeq2Seq, token=True)
    x, _ = _data(True)
    result = model.generate(x, strategy="beam", beam_width=2)
    assert result["attention"].dtype == np.float32
    # The first step of every output attends (later steps of a finished output are zeros).
    np.testing.assert_allclose(result["attention"][:, 0].sum(-1), 1.0, atol=1e-5)
    assert np.isfinite(result["log_probs"]).all()


def test_generation_logits_are_float32_products_of_bfloat16_operands():
    """A generation step's output layer multiplies bfloat16 operands and returns
    float32 logits; on JAX (oneDNN) they are not rounded to bfloat16 in between."""
    model = _model(AttentionSeq2Seq, token=True)
    x, _ = _data(True)
    cache = model.generation_cache(ops.convert_to_tensor(x))
    logits, _, _ = model.generation_step(ops.full((16,), START_ID, dtype="int32"), cache, 0)
    assert ops.convert_to_numpy(logits).dtype == np.float32
    layer = model.decoder.output_layer
    readout = np.random.default_rng(2).normal(size=(16, model.decoder.readout_dim))

    def rounded(value):
        return ops.convert_to_numpy(ops.cast(ops.cast(value, "bfloat16"), "float32"))

    expected = rounded(readout) @ rounded(layer.kernel) + ops.convert_to_numpy(layer.bias)
    got = ops.convert_to_numpy(model.decoder._outputs(ops.convert_to_tensor(readout)))
    assert got.dtype == np.float32
    exact = keras.backend.backend() == "jax"
    np.testing.assert_allclose(got, expected, rtol=1e-5 if exact else 1e-2, atol=1e-5)


@pytest.mark.parametrize("cls", MODELS, ids=lambda cls: cls.__name__)
def test_training_probabilities_are_a_float32_softmax(cls):
    """Teacher forced or not, the probabilities the loss reads are a float32 softmax
    (bfloat16 ones sum to 1 within about 1e-2 only); the teacher-forced decoders' logits
    are float32 products of the bfloat16 operands, as a generation step's are."""
    model = _model(cls, token=True)
    x, y = _data(True)
    inputs = x if cls is SimpleSeq2Seq else [x, y]
    probabilities = ops.convert_to_numpy(model(inputs, training=True))
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-6)
    if cls is SimpleSeq2Seq:
        return
    # The same weights returning logits (no dropout here: the same teacher-forced pass).
    twin = _model(cls, token=True, logits=True)
    twin(inputs)
    twin.set_weights(model.get_weights())
    logits = twin(inputs, training=True)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    np.testing.assert_allclose(
        ops.convert_to_numpy(ops.softmax(logits, axis=-1)), probabilities, rtol=1e-3, atol=1e-6
    )


def test_recurrent_layer_multiplies_in_bfloat16_and_carries_float32():
    layer = Recurrent(8, return_sequences=True, dtype=POLICY)
    x = np.random.default_rng(1).normal(size=(2, 5, 3)).astype("float32")
    outputs, (h, c) = layer(x)
    assert layer.cell.compute_dtype == "bfloat16"
    assert layer.cell.state_dtype == "float32"
    assert keras.backend.standardize_dtype(h.dtype) == "float32"
    assert keras.backend.standardize_dtype(c.dtype) == "float32"
    # Close to the float32 layer with the same weights: only the products are rounded.
    exact = Recurrent(8, return_sequences=True, dtype="float32")
    exact.build(x.shape)
    exact.set_weights(layer.get_weights())
    expected, _ = exact(x)
    outputs = keras.ops.convert_to_numpy(keras.ops.cast(outputs, "float32"))
    np.testing.assert_allclose(outputs, keras.ops.convert_to_numpy(expected), atol=0.03)
    assert not np.array_equal(outputs, keras.ops.convert_to_numpy(expected))


def test_cell_state_dtype_follows_the_policy():
    assert LSTMCell(4).state_dtype == "float32"
    assert LSTMCell(4, dtype=POLICY).state_dtype == "float32"
    assert LSTMCell(4, dtype="bfloat16").state_dtype == "bfloat16"


@pytest.mark.parametrize("layer", ["encoder", "decoder"])
def test_standalone_encoder_and_decoder_pass_their_policy_to_every_sublayer(layer):
    """Built outside a model, under the float32 global policy: embeddings, recurrent
    layers, cells, attention, output and dropout layers all take the layer's policy."""
    if layer == "encoder":
        built = Encoder(
            8,
            depth=2,
            bidirectional=True,
            dropout=0.1,
            input_vocab_size=12,
            embedding_dim=4,
            dtype=POLICY,
        )
        built.build((None, 5))
    else:
        built = Decoder(
            8,
            output_dim=12,
            depth=2,
            output_vocab_size=12,
            embedding_dim=4,
            memory_dim=16,
            attention=True,
            dropout=0.1,
            dtype=POLICY,
        )
        built.build()
    assert keras.config.dtype_policy().name == "float32"
    sublayers = built._flatten_layers(include_self=False)
    assert len(sublayers) >= 6
    assert {sublayer.dtype_policy.name for sublayer in sublayers} == {POLICY}
    assert {w.dtype for w in built.weights} == {"float32"}


@pytest.mark.parametrize("token", [True, False], ids=["tokens", "real"])
@pytest.mark.parametrize("cls", MODELS, ids=lambda cls: cls.__name__)
def test_every_layer_of_a_model_takes_its_policy_not_the_global_one(cls, token):
    """Depth 2 with dropout: every kind of sublayer exists; the global policy is float32."""
    kwargs = {"input_vocab_size": 12, "output_vocab_size": 12, "embedding_dim": 8}
    if not token:
        kwargs = {"input_dim": 3, "output_dim": 2}
    model = cls(
        input_length=6, output_length=5, hidden_dim=8, depth=2, dropout=0.1, dtype=POLICY, **kwargs
    )
    assert keras.config.dtype_policy().name == "float32"
    assert {layer.dtype_policy.name for layer in model._flatten_layers()} == {POLICY}


@pytest.mark.parametrize(
    "cls, token",
    [(SimpleSeq2Seq, True), (SimpleSeq2Seq, False), (Seq2Seq, False)],
    ids=["SimpleSeq2Seq-tokens", "SimpleSeq2Seq-real", "Seq2Seq-real"],
)
def test_outputs_after_the_loop_are_float32_not_rounded_to_bfloat16(cls, token):
    """SimpleSeq2Seq's output layer and Seq2Seq's fused linear feedback (`fused.dense`
    after the recurrence) give float32 products of the bfloat16 operands, as the
    teacher-forced decoders do: not bfloat16 values cast up."""
    if cls is Seq2Seq and not onednn_bfloat16():
        pytest.skip("the linear feedback is fused under mixed_bfloat16 on JAX's oneDNN only")
    model = _model(cls, token, **({"logits": True} if token else {}))
    x, _ = _data(token)
    model(x)
    rng = np.random.default_rng(3)
    for weight in model.weights:
        if weight.path.endswith("bias"):
            weight.assign(rng.normal(size=weight.shape).astype("float32"))
    outputs = ops.convert_to_numpy(model(x))
    assert outputs.dtype == np.float32
    if keras.backend.backend() == "jax":
        # oneDNN's products are not rounded; other backends round theirs, and a variable
        # read inside a layer's call (the bias) is cast to bfloat16 by Keras' autocast.
        rounded = ops.convert_to_numpy(ops.cast(ops.cast(outputs, "bfloat16"), "float32"))
        assert np.mean(rounded != outputs) > 0.5


@pytest.mark.parametrize("teacher_force", [True, False], ids=["teacher_forced", "free_running"])
@pytest.mark.parametrize("cls", [Seq2Seq, AttentionSeq2Seq], ids=lambda cls: cls.__name__)
def test_stacked_decoder_with_dropout_trains(cls, teacher_force):
    """Dropout between a stacked decoder's layers and on its readout multiplies float32
    states (TensorFlow refused a bfloat16 mask there: the g2p recipe's setting)."""
    model = _model(cls, token=True, depth=2, dropout=0.2, teacher_force=teacher_force)
    x, y = _data(True)
    model.compile(optimizer="adam")
    before = [np.array(w) for w in model.trainable_weights]
    history = model.fit([x, y] if teacher_force else x, y, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert any(not np.array_equal(b, np.array(w)) for b, w in zip(before, model.trainable_weights))


@pytest.mark.parametrize("cls", MODELS, ids=lambda cls: cls.__name__)
def test_real_valued_outputs_are_float32_on_every_path(cls):
    """Whichever path a model's decoder takes (the free-running step loop, Seq2Seq's
    fused linear feedback on oneDNN, SimpleSeq2Seq's output layer after the loop), its
    real-valued outputs under mixed_bfloat16 are float32, as its token probabilities are,
    and they follow the float32 model with the same weights to bfloat16's precision."""
    model = _model(cls, False)
    x, _ = _data(False)
    outputs = model(x)
    assert keras.backend.standardize_dtype(outputs.dtype) == "float32"
    predicted = model.predict(x, verbose=0)
    assert predicted.dtype == np.float32
    exact = _model(cls, False, dtype="float32")
    exact.set_weights(model.get_weights())
    expected = exact.predict(x, verbose=0)
    np.testing.assert_allclose(predicted, expected, atol=0.05 * np.abs(expected).max())


def test_free_running_outputs_are_the_output_layers_bfloat16_values():
    """Inside a free-running loop the output layer runs as itself under mixed_bfloat16:
    each step's output, fed back, is the layer's bfloat16 value (in float32 the loop
    takes the same product without the layer's `__call__`), cast to float32 after it."""
    model = _model(AttentionSeq2Seq, False)
    x, _ = _data(False)
    outputs = ops.convert_to_numpy(model(x))
    assert outputs.dtype == np.float32
    rounded = ops.convert_to_numpy(ops.cast(ops.cast(outputs, "bfloat16"), "float32"))
    np.testing.assert_array_equal(outputs, rounded)
    assert np.abs(outputs).max() > 0  # not all zeros
