"""The co2 report: the model's errors next to four baselines on the same test windows.

Nothing is trained: an untrained model stands in, since the baselines and the
report's shape do not depend on how good the model is.
"""

import json

import numpy as np
import pytest

from seq2seq.commands.datasets import Dataset, load_dataset
from seq2seq.commands.inference import format_report, score_split
from seq2seq.models import SimpleSeq2Seq
from tests.cli.cli_helpers import assert_printed_matches, run

BASELINES = ("naive", "seasonal_naive", "seasonal_naive_drift", "holt_winters")
# MAE in ppm on the 178 test windows, measured by seq2seq.forecast_baselines.
CO2_BASELINE_MAE_PPM = {
    "naive": 2.69,
    "seasonal_naive": 1.79,
    "seasonal_naive_drift": 1.12,
    "holt_winters": 0.84,
}


def untrained_model(output_length):
    return SimpleSeq2Seq(hidden_dim=4, input_dim=1, output_dim=1, output_length=output_length)


@pytest.fixture(scope="module")
def co2_report():
    dataset = load_dataset(task="co2", max_examples=None, seed=0)
    return score_split(untrained_model(52), dataset, "test", relative=True)


def test_co2_baselines_in_ppm(co2_report):
    scores = co2_report["metrics"]
    assert co2_report["examples"] == 178
    measured = {name: round(scores[f"{name}_mae_original_units"], 2) for name in BASELINES}
    assert measured == CO2_BASELINE_MAE_PPM


def test_co2_report_scores_the_model_against_holt_winters(co2_report):
    scores = co2_report["metrics"]
    expected = {"mse", "mae", "mae_relative_to_holt_winters", "mae_original_units"}
    for name in BASELINES:
        expected |= {f"{name}_mse", f"{name}_mae", f"{name}_mae_original_units"}
    assert set(scores) == expected
    ratio = scores["mae"] / scores["holt_winters_mae"]
    assert scores["mae_relative_to_holt_winters"] == pytest.approx(ratio)
    std = scores["mae_original_units"] / scores["mae"]
    for name in BASELINES:
        assert scores[f"{name}_mae_original_units"] == pytest.approx(scores[f"{name}_mae"] * std)
    fits = co2_report["baselines"]["holt_winters"]
    assert co2_report["baselines"]["season_length"] == 52
    assert (fits["windows"], fits["failed"]) == (178, 0)
    # Fitting every window takes seconds (about 5 s on 2 busy cores).
    assert fits["seconds"] < 120
    assert "Holt-Winters: 178 fits" in format_report(co2_report)


def test_a_data_file_without_a_season_gets_the_last_value_baseline_only():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 120, 1)).astype("float32")
    y = rng.normal(size=(6, 52, 1)).astype("float32")
    dataset = Dataset("windows", "windows.npz", "real", {"test": {"x": x, "y": y}})
    report = score_split(untrained_model(52), dataset, "test")
    assert set(report["metrics"]) == {"mse", "mae", "naive_mse", "naive_mae"}
    assert report["baselines"] == {"season_length": None}
    assert report["metrics"]["naive_mae"] == pytest.approx(np.mean(np.abs(x[:, -1:] - y)))


def test_evaluate_writes_the_baselines_for_co2(tmp_path):
    model_path = tmp_path / "model.keras"
    untrained_model(52).save(model_path)
    out = tmp_path / "evaluation.json"
    code, stdout, err = run(
        "evaluate", model_path, "--task", "co2", "--max-examples", "40", "--json", out
    )
    assert code == 0, err
    report = json.loads(out.read_text())
    assert {f"{name}_mae_original_units" for name in BASELINES} <= set(report["metrics"])
    assert "mae_relative_to_holt_winters" in report["metrics"]
    assert_printed_matches(stdout, report)
