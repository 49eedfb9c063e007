"""`--relative` with covariates: inputs with more features than the outputs.

The first `output_features` input features are the series forecast (made
relative to their last step, forecasts shifted back); the others are
covariates, passed through unchanged and never read by the baselines.
"""

import json

import keras
import numpy as np
import pytest

from seq2seq.commands.datasets import Dataset
from seq2seq.commands.errors import CommandError
from seq2seq.commands.inference import predict_values, relative_inputs, score_split
from seq2seq.models import SimpleSeq2Seq
from tests.cli.cli_helpers import assert_printed_matches, run, train_relative_npz
from tests.helpers import backend_independent

IN_LEN, OUT_LEN = 6, 3


def windows(n=30, seed=1):
    """A series (feature 0, around 10) and a covariate (feature 1); targets follow the series."""
    rng = np.random.default_rng(seed)
    series = 10.0 + np.cumsum(rng.normal(size=(n, IN_LEN + OUT_LEN)), axis=1)
    covariate = rng.normal(size=(n, IN_LEN)) * 3.0
    x = np.stack([series[:, :IN_LEN], covariate], axis=-1).astype("float32")  # (n, 6, 2)
    y = series[:, IN_LEN:, None].astype("float32")  # (n, 3, 1)
    return x, y


def test_relative_inputs_shift_the_series_and_pass_covariates_through():
    x, y = windows()
    shifted, relative_y, last = relative_inputs(x, y)
    assert shifted.shape == (30, IN_LEN, 2) and relative_y.shape == (30, OUT_LEN, 1)
    assert last.shape == (30, 1, 1)
    np.testing.assert_array_equal(last[:, 0, 0], x[:, -1, 0])
    np.testing.assert_array_equal(shifted[..., 0], x[..., 0] - x[:, -1:, 0])
    np.testing.assert_array_equal(shifted[..., 1], x[..., 1])
    np.testing.assert_array_equal(relative_y, y - x[:, -1:, :1])
    # Without targets, `output_features` says how many features are the series.
    alone, none, same_last = relative_inputs(x, output_features=1)
    assert none is None
    np.testing.assert_array_equal(alone, shifted)
    np.testing.assert_array_equal(same_last, last)


def test_relative_inputs_without_covariates_shift_every_feature():
    x = np.arange(24, dtype="float32").reshape(2, 4, 3)
    shifted, _, last = relative_inputs(x)
    np.testing.assert_array_equal(shifted, x - x[:, -1:, :])
    assert last.shape == (2, 1, 3)


def test_relative_needs_as_many_input_as_output_features():
    x, y = windows()
    with pytest.raises(CommandError) as caught:
        relative_inputs(x[..., :1], np.concatenate([y, y], axis=-1))
    assert str(caught.value) == (
        "--relative: expected at least as many input as output features (the first 2 "
        "inputs are the series forecast, any others covariates); received 1 input and 2 "
        "output features"
    )


def untrained(input_dim=2):
    return SimpleSeq2Seq(hidden_dim=4, input_dim=input_dim, output_dim=1, output_length=OUT_LEN)


def test_predict_values_shifts_the_forecast_back_and_not_the_covariate():
    x, _ = windows()
    model = untrained()
    predicted = predict_values(model, x, relative=True)
    assert predicted.shape == (30, OUT_LEN, 1)
    seen = x.copy()
    seen[..., 0] -= x[:, -1:, 0]
    expected = model.predict(seen, verbose=0) + x[:, -1:, :1]
    np.testing.assert_allclose(predicted, expected, rtol=1e-5, atol=1e-5)
    # The covariate matters to the model, so passing it shifted would change the forecast.
    wrong = seen.copy()
    wrong[..., 1] -= x[:, -1:, 1]
    assert not np.allclose(model.predict(wrong, verbose=0) + x[:, -1:, :1], predicted)


def test_baselines_forecast_the_series_only():
    x, y = windows()
    dataset = Dataset("windows", "windows.npz", "real", {"test": {"x": x, "y": y}})
    report = score_split(untrained(), dataset, "test", relative=True)
    naive = np.broadcast_to(x[:, -1:, :1], y.shape)
    assert report["metrics"]["naive_mae"] == pytest.approx(np.mean(np.abs(naive - y)))
    assert report["relative"] is True
    # Without `relative` nothing says which inputs are the series: no baseline.
    plain = score_split(untrained(), dataset, "test")
    assert set(plain["metrics"]) == {"mse", "mae"}


@pytest.fixture(scope="module")
def covariate_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("covariates")
    x, y = windows()
    return folder, train_relative_npz(folder, x, y), x, y


@backend_independent
def test_train_evaluate_predict_with_a_covariate(covariate_run):
    folder, out, x, y = covariate_run
    run_dir = folder / "run"
    report = json.loads((run_dir / "metrics.json").read_text())
    assert set(report["metrics"]) == {"mse", "mae", "naive_mse", "naive_mae"}
    assert_printed_matches(out, report)
    model = keras.saving.load_model(run_dir / "model.keras", compile=False)
    assert (model.input_dim, model.output_dim) == (2, 1)

    code, out, err = run("evaluate", run_dir / "model.keras", folder / "series.npz")
    assert code == 0, err
    evaluated = json.loads((run_dir / "evaluation-series.json").read_text())
    naive = np.broadcast_to(x[:, -1:, :1], y.shape)
    assert evaluated["metrics"]["naive_mae"] == pytest.approx(np.mean(np.abs(naive - y)))

    code, out, err = run("predict", run_dir / "model.keras", "--file", folder / "series.npz")
    assert code == 0, err
    rows = np.array([[float(v) for v in line.split()] for line in out.splitlines()])
    assert rows.shape == (30, OUT_LEN)
    seen = x.copy()
    seen[..., 0] -= x[:, -1:, 0]
    expected = model.predict(seen, verbose=0) + x[:, -1:, :1]
    np.testing.assert_allclose(rows[..., None], expected, rtol=1e-4, atol=1e-4)
    mae = np.mean(np.abs(rows[..., None] - y))
    assert mae == pytest.approx(evaluated["metrics"]["mae"], rel=1e-3)


@backend_independent
def test_predict_names_a_file_with_the_wrong_features(covariate_run, tmp_path):
    folder, _, x, _ = covariate_run
    np.savez(tmp_path / "one.npz", x=x[..., :1])
    code, out, err = run("predict", folder / "run" / "model.keras", "--file", tmp_path / "one.npz")
    assert (code, out) == (2, "")
    assert err.strip().endswith("one.npz: array 'x' has 1 features, the model expects 2")


def test_train_refuses_fewer_input_than_output_features(tmp_path):
    x, y = windows()
    np.savez(tmp_path / "series.npz", x=x[..., :1], y=np.concatenate([y, y], axis=-1))
    code, out, err = run("train", tmp_path / "series.npz", "--relative", "--out", tmp_path / "r")
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "--relative: expected at least as many input as output features" in err
    assert "received 1 input and 2 output features" in err
