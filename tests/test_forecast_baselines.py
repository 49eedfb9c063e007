"""Exact values of the forecast baselines on small synthetic series."""

import warnings

import numpy as np
import pytest

from seq2seq import forecast_baselines
from seq2seq.forecast_baselines import (
    holt_winters,
    last_value,
    score_baselines,
    seasonal_naive,
    seasonal_naive_drift,
)

SEASON = 4


def trend_and_sine(length, start=0, slope=0.25, level=3.0):
    """A linear trend plus a sine of period `SEASON`: shape `(length,)`."""
    t = np.arange(start, start + length, dtype=np.float64)
    return level + slope * t + np.sin(2 * np.pi * t / SEASON)


def test_last_value_is_exact_on_a_constant():
    x = np.full((2, 5), 7.5)
    forecast = last_value(x, horizon=3)
    assert forecast.shape == (2, 3, 1)
    np.testing.assert_array_equal(forecast, np.full((2, 3, 1), 7.5))


def test_last_value_repeats_each_feature():
    x = np.arange(12.0).reshape(2, 3, 2)  # last steps (4, 5) and (10, 11)
    np.testing.assert_array_equal(last_value(x, 2)[:, :, 1], [[5.0, 5.0], [11.0, 11.0]])


def test_seasonal_naive_cycles_the_last_season():
    x = np.array([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]])
    forecast = seasonal_naive(x, horizon=6, season_length=SEASON)
    np.testing.assert_array_equal(forecast[0, :, 0], [5.0, 6.0, 7.0, 8.0, 5.0, 6.0])


def test_seasonal_naive_is_exact_on_a_periodic_series():
    series = trend_and_sine(12, slope=0.0)
    forecast = seasonal_naive(series[None, :8], horizon=4, season_length=SEASON)
    np.testing.assert_allclose(forecast[0, :, 0], series[8:], atol=1e-12)


@pytest.mark.parametrize("horizon", [1, 4, 9])
def test_seasonal_naive_drift_is_exact_on_trend_plus_sine(horizon):
    series = trend_and_sine(8 + horizon)
    forecast = seasonal_naive_drift(series[None, :8], horizon=horizon, season_length=SEASON)
    np.testing.assert_allclose(forecast[0, :, 0], series[8:], atol=1e-12)


def test_seasonal_naive_drift_adds_the_mean_seasonal_difference():
    # Seasonal differences y[t] - y[t-2]: 3-1, 4-2, 9-3, 8-4 -> mean 3.5.
    x = np.array([[1.0, 2.0, 3.0, 4.0, 9.0, 8.0]])
    forecast = seasonal_naive_drift(x, horizon=3, season_length=2)
    np.testing.assert_allclose(forecast[0, :, 0], [9.0 + 3.5, 8.0 + 3.5, 9.0 + 7.0])


def test_holt_winters_follows_trend_plus_sine_quietly():
    series = np.stack([trend_and_sine(20, start=k) for k in range(3)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning that escapes fails the test
        forecast, notes = holt_winters(series[:, :16], horizon=4, season_length=SEASON)
    assert forecast.shape == (3, 4, 1)
    np.testing.assert_allclose(forecast[:, :, 0], series[:, 16:], atol=1e-3)
    assert notes["windows"] == 3 and notes["failed"] == 0
    assert notes["seconds"] >= 0


class _Warns:
    """A stand-in for `ExponentialSmoothing` that warns, then forecasts zeros."""

    def __init__(self, endog, **kwargs):
        self.endog = endog

    def fit(self, **kwargs):
        warnings.warn("did not converge", RuntimeWarning, stacklevel=2)
        return self

    def forecast(self, horizon):
        return np.zeros(horizon)


class _Fails(_Warns):
    def fit(self, **kwargs):
        raise np.linalg.LinAlgError("singular matrix")


@pytest.mark.parametrize("stand_in, warned, failed", [(_Warns, 2, 0), (_Fails, 0, 2)])
def test_holt_winters_counts_warnings_and_falls_back(monkeypatch, stand_in, warned, failed):
    from statsmodels.tsa import holtwinters

    monkeypatch.setattr(holtwinters, "ExponentialSmoothing", stand_in)
    x = np.stack([trend_and_sine(8), trend_and_sine(8, start=1)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        forecast, notes = holt_winters(x, horizon=2, season_length=SEASON)
    assert (notes["warned"], notes["failed"]) == (warned, failed)
    expected = seasonal_naive_drift(x, 2, SEASON) if failed else np.zeros((2, 2, 1))
    np.testing.assert_allclose(forecast, expected)


def test_score_baselines_without_a_season_scores_the_last_value_only():
    scores, notes = score_baselines(np.ones((2, 5)), np.full((2, 3), 3.0))
    assert scores == {"naive_mse": 4.0, "naive_mae": 2.0}
    assert notes == {"season_length": None}


def test_score_baselines_with_a_season():
    series = np.stack([trend_and_sine(12, start=k) for k in range(2)])
    scores, notes = score_baselines(series[:, :8], series[:, 8:], season_length=SEASON)
    assert list(scores) == [
        f"{name}_{error}" for name in forecast_baselines.BASELINES for error in ("mse", "mae")
    ]
    assert scores["seasonal_naive_drift_mae"] == pytest.approx(0.0, abs=1e-12)
    # Seasonal naive misses one season of trend: 0.25 * 4.
    assert scores["seasonal_naive_mae"] == pytest.approx(1.0)
    assert scores["naive_mae"] > scores["holt_winters_mae"]
    assert notes["season_length"] == SEASON and notes["holt_winters"]["windows"] == 2


def test_score_baselines_skips_what_a_short_window_cannot_fit():
    # One season in the window: seasonal naive only (drift and Holt-Winters need two).
    scores, notes = score_baselines(np.ones((2, 5)), np.ones((2, 3)), season_length=SEASON)
    assert set(scores) == {"naive_mse", "naive_mae", "seasonal_naive_mse", "seasonal_naive_mae"}
    assert "holt_winters" not in notes


def test_score_baselines_reads_the_forecast_series_not_the_covariates():
    series = np.stack([trend_and_sine(12, start=k) for k in range(2)])
    covariate = np.random.default_rng(0).normal(size=(2, 8, 1)) * 100.0
    x = np.concatenate([series[:, :8, None], covariate], axis=-1)  # (2, 8, 2)
    with_covariate, notes = score_baselines(x, series[:, 8:, None], season_length=SEASON)
    alone, _ = score_baselines(series[:, :8], series[:, 8:], season_length=SEASON)
    assert with_covariate == pytest.approx(alone)
    # One fit per window: the covariate is not forecast.
    assert notes["holt_winters"]["windows"] == 2


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda: last_value(np.ones((2, 3)), 0), "horizon"),
        (lambda: last_value(np.ones(3), 2), "x"),
        (lambda: seasonal_naive(np.ones((1, 3)), 2, season_length=4), "season_length"),
        (lambda: seasonal_naive_drift(np.ones((1, 6)), 2, season_length=4), "season_length"),
        (lambda: seasonal_naive(np.ones((1, 8)), 2, season_length=True), "season_length"),
        (lambda: score_baselines(np.ones((2, 5)), np.ones((3, 2))), "y"),
        (lambda: score_baselines(np.ones((2, 5, 1)), np.ones((2, 2, 2))), "y"),
    ],
)
def test_bad_arguments_name_themselves(call, argument):
    with pytest.raises(ValueError, match=f"argument `{argument}`.*Received"):
        call()
