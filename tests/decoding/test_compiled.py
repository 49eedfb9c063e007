"""The compiled generation path (jax.jit on JAX, tf.function on TensorFlow) agrees with the
generic fallback."""

import keras
import numpy as np
import pytest

from seq2seq.decoding import generate
from seq2seq.models import AttentionSeq2Seq

SETTINGS = [
    {"strategy": "greedy"},
    {"strategy": "beam", "beam_width": 3, "length_penalty": 0.6, "return_all_beams": True},
    {"strategy": "random", "temperature": 0.8, "top_k": 5, "top_p": 0.9, "seed": 4},
]


def make_model(**kwargs):
    return AttentionSeq2Seq(
        input_vocab_size=9,
        output_vocab_size=9,
        input_length=None,
        output_length=6,
        hidden_dim=8,
        **kwargs,
    )


X = np.array([[4, 5, 6, 7, 0], [8, 4, 0, 0, 0], [5, 5, 5, 6, 7]], "int32")


@pytest.mark.parametrize("settings", SETTINGS, ids=[s["strategy"] for s in SETTINGS])
def test_compiled_and_generic_paths_agree(settings):
    model = make_model()
    compiled = generate(model, X, **settings)
    generic = generate(model, X, compiled=False, **settings)
    assert sorted(compiled) == sorted(generic)
    for name in compiled:
        np.testing.assert_allclose(compiled[name], generic[name], atol=1e-5, err_msg=name)


def test_one_compiled_function_per_setting_and_it_sees_new_weights():
    model = make_model()
    first = model.generate(X)
    model.generate(X, strategy="random", seed=1)
    model.generate(X, strategy="random", seed=2)  # the seed is an input, not a new function
    assert len(model._seq2seq_generate_cache) == 2
    other = make_model()
    model.set_weights(other.get_weights())
    after = model.generate(X)
    np.testing.assert_allclose(
        after["log_probs"], generate(other, X, compiled=False)["log_probs"], atol=1e-5
    )
    assert not np.allclose(after["log_probs"], first["log_probs"])


@pytest.mark.skipif(keras.config.backend() != "tensorflow", reason="TensorFlow's graph path")
def test_tensorflow_generates_from_graphs():
    import tensorflow as tf

    model = make_model()
    for settings in SETTINGS:
        generate(model, X, **settings)
    functions = list(model._seq2seq_generate_cache.values())
    assert len(functions) == len(SETTINGS)
    assert all(isinstance(f, tf.types.experimental.GenericFunction) for f in functions)


@pytest.mark.skipif(keras.config.backend() != "jax", reason="JAX's compiler options")
@pytest.mark.parametrize("accelerated", [True, False])
def test_jax_generation_without_ynnpack_fusions_on_a_cpu_agrees(monkeypatch, accelerated):
    """On a CPU JAX compiles generation without XLA's YNNPACK fusions (faster there);
    the tokens and scores are the generic path's either way."""
    import jax
    import jax.numpy as jnp

    from seq2seq import hardware
    from seq2seq.decoding import compiled

    monkeypatch.setattr(hardware, "accelerated", lambda: accelerated)
    options = compiled.compiler_options()
    if accelerated or not compiled._option_known():
        assert options is None
    else:
        assert options == {"xla_cpu_experimental_ynn_fusion_type": ""}
        # The attention's energy, as generation computes it: no YNNPACK fusion left.
        energy = jax.jit(lambda q, k: jnp.tanh(q[:, None] + k).sum(-1), compiler_options=options)
        text = energy.lower(jnp.ones((64, 32)), jnp.ones((64, 5, 32))).compile().as_text()
        assert "ynn_fusion" not in text
    model = make_model()
    for settings in SETTINGS[:2]:
        fast = generate(model, X, **settings)
        generic = generate(model, X, compiled=False, **settings)
        np.testing.assert_array_equal(fast["ids"], generic["ids"])
        np.testing.assert_allclose(fast["log_probs"], generic["log_probs"], atol=1e-5)
