"""Property-based tests over the three models' constructor arguments and data shapes.

Hypothesis draws configurations from `property_strategies`: model class, cell, depth
(an int or an `(encoder, decoder)` pair), bidirectional encoder and merge mode
(`AttentionSeq2Seq`), peek and state passing (`Seq2Seq`), teacher forcing, scheduled
sampling (with a drawn sampling probability), token or real-valued input and output,
sizes, lengths, the three ways of giving the input shape, and batches of 1 to 3 rows
(stateful models are left to tests/models/test_model_options.py).

- Every valid configuration builds, resolves the documented input shape, predicts the
  documented output shape `(batch, output_length, output_dim)`, trains one step to a
  finite loss with a gradient for every weight, and survives a `.keras` save and load
  with the same predictions (and the same token ids from `generate`).
- Every invalid configuration (one argument broken) raises a `ValueError` naming the
  argument and the value received; data that does not fit the model raises the
  documented `ValueError` or `TypeError` at `fit`, `evaluate` or `predict`.

Configurations run per backend (`max_examples`: valid + invalid arguments + invalid data),
and what they cost on the project's 2-core machine (shared with other jobs):

- JAX: 30 + 170 + 50 = 250, about 3 min 30 s alone. The time is not for the cases'
  arithmetic but because op-by-op JAX compiles each operation for every new shape
  (about 30 ms each), hence few valid cases and few distinct sizes; once the drawn sizes
  are compiled, more cases cost little (the file's valid and invalid-argument tests alone:
  207 s with 24 valid cases, 210 s with 30);
- TensorFlow: 30 + 170 + 50 = 250 (40 valid cases took 129 s in a whole suite's run,
  30 took 89 s);
- PyTorch: 150 + 170 + 50 = 370, about 45 s.

The valid configurations run op by op (`run_eagerly=True`, and `jax.disable_jit()` on
JAX): compiling each new configuration would cost seconds. `test_configuration_count`
checks that the counts above really ran. The examples are fixed (`derandomize=True`, no
example database), so every run of CI tries the same configurations.
"""

import contextlib
from collections import Counter
from functools import cache

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from property_strategies import Case, invalid_cases, invalid_data, valid_cases

from seq2seq.models import AttentionSeq2Seq, load_model

# A valid configuration trains every weight: no layer may be cut off from the loss.
pytestmark = pytest.mark.filterwarnings("error:Gradients do not exist:UserWarning")

BACKEND = keras.backend.backend()
EXAMPLES = {
    "valid": {"jax": 30, "tensorflow": 30, "torch": 150}[BACKEND],
    "invalid_arguments": 170,
    "invalid_data": 50,
}
MINIMUM_TOTAL = 200
RAN = Counter()  # examples run per test, checked by `test_configuration_count`
SEED = 1337


def _settings(name):
    return settings(
        max_examples=EXAMPLES[name],
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=False,
        # tmp_path is shared by the examples of a test: each writes its own file.
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.function_scoped_fixture,
        ],
    )


@contextlib.contextmanager
def _op_by_op():
    """On JAX, runs eagerly: one configuration's few calls cost less than compiling them."""
    if BACKEND != "jax":
        yield
        return
    import jax

    with jax.disable_jit():
        yield


def _fresh_session():
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(SEED)


def _data(case: Case):
    """`(x, y)` for a case: token ids padded at the end (whole rows of padding included)
    and at least one real target per row, or real values in [0, 1)."""
    rng = np.random.default_rng(case.data_seed)
    batch, length, out_length = case.batch, case.input_length, case.kwargs["output_length"]
    if case.token_input:
        x = rng.integers(1, case.kwargs["input_vocab_size"], (batch, length)).astype("int32")
        x[np.arange(length) >= rng.integers(0, length + 1, (batch, 1))] = 0
    else:
        x = rng.random((batch, length, case.input_shape[2])).astype("float32")
    if case.token_output:
        y = rng.integers(1, case.output_dim, (batch, out_length)).astype("int32")
        y[np.arange(out_length) >= rng.integers(1, out_length + 1, (batch, 1))] = 0
    else:
        y = rng.random((batch, out_length, case.output_dim)).astype("float32")
    return x, y


def _depths(depth):
    return (depth, depth) if isinstance(depth, int) else tuple(depth)


def _outputs(model, case, x):
    """Everything a model predicts for `x`, to compare before and after a save."""
    outputs = {"predict": model.predict(x, batch_size=case.batch, verbose=0)}
    if isinstance(model, AttentionSeq2Seq):
        outputs["attention"] = model.predict_attention(x)
    if case.token_output:
        outputs["ids"] = model.generate(x)["ids"]
    return outputs


@_settings("valid")
@given(case=valid_cases())
def test_valid_configuration(case, tmp_path):
    RAN["valid"] += 1
    _fresh_session()
    kwargs = case.kwargs
    x, y = _data(case)
    batch, out_length = case.batch, kwargs["output_length"]
    with _op_by_op():
        model = case.model_cls(**kwargs)
        assert model.built
        assert model.full_input_shape == case.input_shape
        assert (model.encoder_depth, model.decoder_depth) == _depths(kwargs["depth"])
        assert model.output_dim == case.output_dim
        teacher_force = kwargs["teacher_force"]
        assert model.teacher_force == (
            case.token_output if teacher_force is None else teacher_force
        )

        loss = None if case.token_output else "mse"
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss, run_eagerly=True)
        before = _outputs(model, case, x)
        assert before["predict"].shape == case.expected_output_shape
        assert np.all(np.isfinite(before["predict"]))
        if case.token_output and not kwargs["logits"]:
            np.testing.assert_allclose(before["predict"].sum(-1), 1.0, atol=1e-5)
        if "attention" in before:
            assert before["attention"].shape == (batch, out_length, case.input_length)
            np.testing.assert_allclose(before["attention"].sum(-1), 1.0, atol=1e-5)
        if case.token_output:
            assert before["ids"].shape == (batch, out_length)
            assert before["ids"].dtype == np.int32
            assert np.all((before["ids"] >= 0) & (before["ids"] < case.output_dim))

        model.sampling_probability.assign(case.sampling_probability)
        history = model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)
        assert int(model.optimizer.iterations) == 1
        assert np.isfinite(history.history["loss"][-1])

        trained = _outputs(model, case, x)
        path = tmp_path / f"model-{RAN['valid']}.keras"
        model.save(path)
        loaded = load_model(path, compile=True)
        path.unlink()
        assert type(loaded) is case.model_cls
        assert loaded.get_config() == model.get_config()
        assert loaded.full_input_shape == case.input_shape
        reloaded = _outputs(loaded, case, x)
    assert reloaded.keys() == trained.keys()
    for name, values in trained.items():
        if name == "ids":
            np.testing.assert_array_equal(reloaded[name], values)
        else:
            np.testing.assert_allclose(reloaded[name], values, atol=1e-6, err_msg=name)


@_settings("invalid_arguments")
@given(drawn=invalid_cases())
def test_invalid_configuration(drawn):
    RAN["invalid_arguments"] += 1
    case, message = drawn
    with pytest.raises(ValueError, match=message):
        case.model_cls(**case.kwargs)


@cache
def _small_model(model_cls, token_input, token_output):
    kwargs = {"output_length": 3, "hidden_dim": 4}
    kwargs.update({"input_vocab_size": 5} if token_input else {"input_dim": 3})
    kwargs.update({"output_vocab_size": 5} if token_output else {"output_dim": 2})
    model = model_cls(**kwargs)
    model.compile(loss=None if token_output else "mse", run_eagerly=True)
    return model


@_settings("invalid_data")
@given(drawn=invalid_data())
def test_invalid_data(drawn):
    RAN["invalid_data"] += 1
    key, method, x, y, error, message = drawn
    model = _small_model(*key)
    with pytest.raises(error, match=message):
        if method == "predict":
            model.predict(x, verbose=0)
        else:
            getattr(model, method)(x, y, verbose=0)


def test_configuration_count():
    """The property tests above ran every planned example (when the whole file runs)."""
    if set(RAN) != set(EXAMPLES):
        pytest.skip("counts the configurations only when every property test of the file ran")
    assert RAN == Counter(EXAMPLES)
    assert sum(RAN.values()) >= MINIMUM_TOTAL
