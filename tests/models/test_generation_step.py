"""The models' public generation contract: `generation_cache`, `generation_step`,
`generation_outputs`, `max_generation_length` and `has_attention` (see `Seq2SeqModel`).

A Python loop over the public interface, with no sampler, must give the ids of
`model.generate` exactly, for all three models.
"""

import numpy as np
import pytest
from keras import ops

from seq2seq.conventions import END_ID, PAD_ID, START_ID
from seq2seq.models import AttentionSeq2Seq, Seq2Seq, SimpleSeq2Seq

MODELS = [SimpleSeq2Seq, Seq2Seq, AttentionSeq2Seq]
VOCAB, OUT_LEN = 11, 6


def token_model(cls):
    return cls(
        input_vocab_size=VOCAB,
        output_vocab_size=VOCAB,
        input_length=None,
        output_length=OUT_LEN,
        hidden_dim=8,
        embedding_dim=6,
        depth=2,
        seed=3,
    )


def token_inputs(batch=5, length=4):
    rng = np.random.default_rng(0)
    x = rng.integers(4, VOCAB, size=(batch, length)).astype("int32")
    x[0, 2:] = PAD_ID
    return x


def step_by_step_greedy(model, x, max_length):
    """Greedy decoding with the public interface only, one Python step at a time."""
    cache = model.generation_cache(ops.convert_to_tensor(x))
    previous = np.full((len(x),), START_ID, dtype="int32")
    finished = np.zeros((len(x),), dtype=bool)
    ids = np.zeros((len(x), max_length), dtype="int32")
    log_probs = np.zeros((len(x),), dtype="float64")
    attention = []
    for index in range(max_length):
        logits, cache, weights = model.generation_step(
            ops.convert_to_tensor(previous), cache, ops.convert_to_tensor(index, dtype="int32")
        )
        logits = ops.convert_to_numpy(ops.cast(logits, "float32")).astype("float64")
        masked = logits.copy()
        masked[:, [PAD_ID, START_ID]] = -np.inf
        token = np.where(finished, PAD_ID, masked.argmax(axis=-1)).astype("int32")
        shifted = logits - logits.max(axis=-1, keepdims=True)
        step = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        log_probs += np.where(finished, 0.0, step[np.arange(len(x)), token])
        ids[:, index] = token
        if weights is not None:
            attention.append(ops.convert_to_numpy(weights) * ~finished[:, None])
        finished |= token == END_ID
        previous = token
        if finished.all():
            break
    return ids, log_probs, attention


@pytest.mark.parametrize("cls", MODELS)
def test_public_steps_reproduce_generate(cls):
    model = token_model(cls)
    x = token_inputs()
    expected = model.generate(x, strategy="greedy")
    ids, log_probs, attention = step_by_step_greedy(model, x, OUT_LEN)
    np.testing.assert_array_equal(ids, expected["ids"])
    np.testing.assert_allclose(log_probs, expected["log_probs"], rtol=1e-4, atol=1e-4)
    assert (len(attention) > 0) == model.has_attention == ("attention" in expected)
    if attention:
        steps = np.stack(attention, axis=1)
        np.testing.assert_allclose(steps, expected["attention"][:, : steps.shape[1]], atol=1e-5)


@pytest.mark.parametrize("cls", MODELS)
def test_cache_separates_per_row_tensors_from_shared_ones(cls):
    """Beam search tiles `states` and `constants` per beam and never `shared`."""
    model = token_model(cls)
    x = token_inputs(batch=3)
    cache = model.generation_cache(ops.convert_to_tensor(x))
    assert set(cache) == {"states", "constants", "shared"}
    assert isinstance(cache["states"], list)
    assert all(isinstance(layer, list) for layer in cache["states"])
    for tensor in _leaves(cache["states"]) + _leaves(cache["constants"]):
        assert tensor.shape[0] == 3
    if cls is AttentionSeq2Seq:
        # Neither the vocabulary's input projections nor the context kernel depends on a row.
        assert cache["shared"]["feature_table"].shape[0] == VOCAB
        assert "context_kernel" in cache["shared"]
    # A step keeps the structure (the loop carry of a sampler) and the per-row constants.
    previous = ops.full((3,), START_ID, dtype="int32")
    logits, new_cache, _ = model.generation_step(previous, cache, 0)
    assert tuple(logits.shape) == (3, VOCAB)
    assert [len(layer) for layer in new_cache["states"]] == [
        len(layer) for layer in cache["states"]
    ]
    assert new_cache["constants"] is cache["constants"]


def test_simple_model_steps_read_precomputed_logits():
    model = token_model(SimpleSeq2Seq)
    x = token_inputs(batch=2)
    cache = model.generation_cache(ops.convert_to_tensor(x))
    expected = ops.convert_to_numpy(model(x))  # softmax of the logits
    for index in (0, OUT_LEN - 1):
        for previous in (START_ID, 7):
            logits, _, weights = model.generation_step(
                ops.full((2,), previous, dtype="int32"), cache, index
            )
            probs = ops.convert_to_numpy(ops.softmax(logits, axis=-1))
            np.testing.assert_allclose(probs, expected[:, index], atol=1e-5)
            assert weights is None
    assert model.max_generation_length == OUT_LEN
    assert token_model(Seq2Seq).max_generation_length is None


@pytest.mark.parametrize("cls", MODELS)
def test_generation_outputs_is_the_free_running_prediction(cls):
    model = cls(input_dim=3, output_dim=2, input_length=None, output_length=5, hidden_dim=8)
    x = np.random.default_rng(1).normal(size=(4, 6, 3)).astype("float32")
    result = model.generation_outputs(ops.convert_to_tensor(x), 5)
    np.testing.assert_allclose(
        ops.convert_to_numpy(result["outputs"]), model.predict(x, verbose=0), atol=1e-5
    )
    assert (result["attention"] is not None) == model.has_attention
    shorter = model.generation_outputs(ops.convert_to_tensor(x), 3)["outputs"]
    assert tuple(shorter.shape) == (4, 3, 2)


def test_real_valued_model_has_no_step_interface():
    model = Seq2Seq(input_dim=3, output_dim=2, input_length=None, output_length=5, hidden_dim=8)
    with pytest.raises(ValueError, match=r"generation_cache.*output_vocab_size=None"):
        model.generation_cache(ops.zeros((1, 4, 3)))


def _leaves(structure):
    if isinstance(structure, dict):
        return [leaf for value in structure.values() for leaf in _leaves(value)]
    if isinstance(structure, (list, tuple)):
        return [leaf for value in structure for leaf in _leaves(value)]
    return [structure]
