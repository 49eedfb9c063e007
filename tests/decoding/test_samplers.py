"""The strategies on a hand-built bigram decoder whose probabilities are known exactly."""

import math

import numpy as np
import pytest
from keras import ops

from seq2seq.decoding import BeamSampler, GreedySampler, RandomSampler, make_sampler

# Ids: 0 pad, 1 start, 2 end, 3 "a", 4 "b". Row = previous id, column = next id.
A, B, END = 3, 4, 2


def bigram(table):
    """A fake decoder: the next-token distribution depends only on the previous id."""
    log_table = ops.convert_to_tensor(
        np.log(np.asarray(table, "float64") + 1e-30).astype("float32")
    )

    def next_fn(prev, cache, index):
        return ops.take(log_table, prev, axis=0), cache, None

    return next_fn


def run(sampler, table, batch=1, max_length=4, seed=None):
    states = [ops.zeros((batch, 1))]
    out = sampler(bigram(table), {"states": states}, max_length, seed=seed)
    return {name: ops.convert_to_numpy(value) for name, value in out.items()}


# Greedy takes "a" (0.6) and then keeps taking "a" (0.36 > 0.34 > 0.30), never ending;
# the best sequence is "b" then end: 0.4 * 0.9 = 0.36, better than "a end" (0.18).
TRAP = [
    [0, 0, 0, 0, 0],
    [0, 0, 0.0, 0.6, 0.4],  # after start
    [0, 0, 0, 0.9, 0.1],  # after end: would continue, must not
    [0, 0, 0.30, 0.36, 0.34],  # after a
    [0, 0, 0.90, 0.05, 0.05],  # after b
]


def test_greedy_follows_the_locally_best_token():
    out = run(GreedySampler(), TRAP)
    assert out["ids"].tolist() == [[A, A, A, A]]
    np.testing.assert_allclose(out["log_probs"], [math.log(0.6) + 3 * math.log(0.36)], rtol=1e-5)


def test_beam_finds_the_more_probable_sequence_greedy_misses():
    out = run(BeamSampler(beam_width=2, return_all_beams=True), TRAP)
    assert out["ids"].tolist() == [[B, END, 0, 0]]
    np.testing.assert_allclose(out["log_probs"], [math.log(0.4 * 0.9)], rtol=1e-5)
    np.testing.assert_allclose(out["scores"], out["log_probs"], rtol=1e-6)
    # At step 1 "a a" (0.216) beats "a end" (0.18), so the runner-up is greedy's path.
    assert out["all_ids"][0].tolist() == [[B, END, 0, 0], [A, A, A, A]]
    np.testing.assert_allclose(
        out["all_log_probs"][0], [math.log(0.36), math.log(0.6 * 0.36**3)], rtol=1e-5
    )
    greedy = run(GreedySampler(), TRAP)
    assert out["log_probs"][0] > greedy["log_probs"][0]


def test_beam_width_one_is_greedy():
    greedy, beam = (
        run(GreedySampler(), TRAP, batch=3),
        run(BeamSampler(beam_width=1), TRAP, batch=3),
    )
    assert beam["ids"].tolist() == greedy["ids"].tolist()
    np.testing.assert_allclose(beam["log_probs"], greedy["log_probs"], rtol=1e-6)


@pytest.mark.parametrize(
    "sampler",
    [GreedySampler(), BeamSampler(beam_width=3), RandomSampler(seed=0)],
    ids=["greedy", "beam", "random"],
)
def test_an_ended_sequence_stays_ended(sampler):
    # After the end id the table prefers "a" (0.9); the output must be padding instead,
    # and the padding adds nothing to the log-probability.
    table = [
        [0, 0, 0, 0, 0],
        [0, 0, 0.9, 0.05, 0.05],
        [0, 0, 0, 0.9, 0.1],
        [0, 0, 1, 0, 0],
        [0, 0, 1, 0, 0],
    ]
    out = run(sampler, table, batch=64, max_length=6, seed=None)
    ids = out["ids"]
    for row, log_prob in zip(ids, out["log_probs"]):
        end = row.tolist().index(END)
        assert (row[end + 1 :] == 0).all()
        assert (row[:end] >= A).all()
        expected = math.log(0.9) if end == 0 else math.log(0.05) + math.log(1.0)
        np.testing.assert_allclose(log_prob, expected, rtol=1e-5, atol=1e-6)


def test_padding_and_start_are_never_generated():
    # A decoder that puts almost all its mass on pad and start still emits real tokens.
    table = [[0.5, 0.45, 0.02, 0.02, 0.01]] * 5
    for sampler in (GreedySampler(), BeamSampler(beam_width=2), RandomSampler(seed=1)):
        for row in run(sampler, table, batch=8, max_length=5)["ids"].tolist():
            emitted = row[: row.index(END) + 1] if END in row else row
            assert min(emitted) >= END, (type(sampler).__name__, row)


def test_length_penalty_changes_the_choice_as_gnmt_normalisation_says():
    # "end" now: 0.5; "a end": 0.5 * 0.9 = 0.45. Raw log-prob prefers the short one;
    # with alpha = 1, -log(0.45) / (7 / 6) = 0.684 < -log(0.5) / 1 = 0.693 prefers the long one.
    table = [
        [0, 0, 0, 0, 0],
        [0, 0, 0.5, 0.5, 0],
        [0, 0, 0, 1, 0],
        [0, 0, 0.9, 0.1, 0],
        [0, 0, 1, 0, 0],
    ]
    short = run(BeamSampler(beam_width=2, length_penalty=0.0), table)
    assert short["ids"].tolist() == [[END, 0, 0, 0]]
    long = run(BeamSampler(beam_width=2, length_penalty=1.0), table)
    assert long["ids"].tolist() == [[A, END, 0, 0]]
    np.testing.assert_allclose(long["log_probs"], [math.log(0.45)], rtol=1e-5)
    np.testing.assert_allclose(long["scores"], [math.log(0.45) / (7 / 6)], rtol=1e-5)


START_ONLY = [
    [0, 0, 0, 0, 0],
    [0, 0, 0, 0.6, 0.4],
    [0, 0, 1, 0, 0],
    [0, 0, 1, 0, 0],
    [0, 0, 1, 0, 0],
]


def draw(sampler, seed=None, batch=4000):
    if seed is None:
        seed = sampler.initial_seed()
    out = run(sampler, START_ONLY, batch=batch, max_length=2, seed=ops.convert_to_tensor(seed))
    return out["ids"][:, 0]


def test_random_sampling_follows_the_distribution():
    first = draw(RandomSampler(seed=3))
    assert set(first.tolist()) == {A, B}
    assert abs((first == A).mean() - 0.6) < 0.04


def test_random_sampling_is_reproducible_with_a_seed():
    a, b = draw(RandomSampler(seed=5), batch=200), draw(RandomSampler(seed=5), batch=200)
    c = draw(RandomSampler(seed=6), batch=200)
    assert a.tolist() == b.tolist()
    assert a.tolist() != c.tolist()


def test_temperature_top_k_and_top_p_truncate_the_distribution():
    assert set(draw(RandomSampler(top_k=1, seed=0)).tolist()) == {A}
    assert set(draw(RandomSampler(top_p=0.5, seed=0)).tolist()) == {A}  # 0.6 alone reaches 0.5
    # "a" reaches 0.7 only with "b".
    assert set(draw(RandomSampler(top_p=0.7, seed=0)).tolist()) == {A, B}
    assert set(draw(RandomSampler(temperature=0.01, seed=0)).tolist()) == {A}
    # Temperature 2 flattens 0.6 / 0.4 to about 0.55 / 0.45.
    flat = draw(RandomSampler(temperature=2.0, seed=0))
    expected = math.sqrt(0.6) / (math.sqrt(0.6) + math.sqrt(0.4))
    assert abs((flat == A).mean() - expected) < 0.04


def test_random_sampling_reports_the_models_log_probabilities():
    out = run(RandomSampler(temperature=3.0, seed=0), START_ONLY, batch=50, max_length=3, seed=None)
    expected = np.where(out["ids"][:, 0] == A, math.log(0.6), math.log(0.4))
    np.testing.assert_allclose(out["log_probs"], expected, rtol=1e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"strategy": "sample"}, "strategy='sample'"),
        ({"strategy": "beam", "beam_width": 0}, "beam_width=0"),
        ({"top_k": 0}, "top_k=0"),
        ({"top_p": 0.0}, "top_p=0.0"),
        ({"top_p": 1.5}, "top_p=1.5"),
        ({"temperature": 0}, "temperature=0"),
        ({"temperature": -1.0}, "temperature=-1.0"),
        ({"length_penalty": -0.5}, "length_penalty=-0.5"),
        ({"seed": -1}, "seed=-1"),
    ],
)
def test_invalid_arguments_name_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")) as info:
        make_sampler(**kwargs)
    if "strategy" in message:
        assert "'greedy', 'beam', 'random'" in str(info.value)
