"""Classical forecasts that a real-valued sequence model should beat.

Each baseline reads the input windows `x` of shape `(n, in_len, features)`
(or `(n, in_len)`) and forecasts the next `horizon` steps of every feature
from that window alone, as the model does. The definitions follow Hyndman and
Athanasopoulos, *Forecasting: Principles and Practice* (3rd ed., sections
5.2 and 8.3), with `T = in_len`, `m` the season length and `h = 1..horizon`:

* `last_value` (the naive forecast): `y[T+h] = y[T]`.
* `seasonal_naive`: the value one season earlier, `y[T+h] = y[T+h-m(k+1)]`
  with `k = (h-1) // m` (for `h <= m`: repeat the last `m` inputs).
* `seasonal_naive_drift`: the seasonal naive forecast plus drift, i.e. a
  random walk with lag `m` and drift (fable's `SNAIVE(y ~ drift())`).
* `holt_winters`: additive trend and additive season, statsmodels'
  `ExponentialSmoothing` fitted on each window (section 8.3).

`score_baselines` scores them all against targets.

Example:

>>> import numpy as np
>>> from seq2seq.forecast_baselines import seasonal_naive_drift
>>> t = np.arange(12.0)
>>> x = (0.5 * t + np.tile([0.0, 1.0, 0.0, -1.0], 3))[None, :]
>>> seasonal_naive_drift(x, horizon=4, season_length=4)[0, :, 0].tolist()
[6.0, 7.5, 7.0, 6.5]
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

BASELINES = ("naive", "seasonal_naive", "seasonal_naive_drift", "holt_winters")
# The baselines that need a season length, and the fewest seasons each needs in a window.
SEASONS_NEEDED = {"seasonal_naive": 1, "seasonal_naive_drift": 2, "holt_winters": 2}


def _windows(x: Any) -> np.ndarray:
    array = np.asarray(x, dtype=np.float64)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[1] < 1:
        raise ValueError(
            "Invalid value for argument `x`. Expected an array of shape (n, in_len) or "
            f"(n, in_len, features) with in_len >= 1. Received: x with shape {array.shape}"
        )
    return array


def _check_horizon(horizon: Any) -> int:
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(
            f"Invalid value for argument `horizon`. Expected a positive int. "
            f"Received: horizon={horizon!r}"
        )
    return int(horizon)


def _check_season(season_length: Any, length: int, seasons: int) -> int:
    if (
        isinstance(season_length, bool)
        or not isinstance(season_length, (int, np.integer))
        or season_length < 2
        or season_length * seasons > length
    ):
        raise ValueError(
            f"Invalid value for argument `season_length`. Expected an int >= 2 with "
            f"{seasons} season(s) within the input length {length}. "
            f"Received: season_length={season_length!r}"
        )
    return int(season_length)


def last_value(x: Any, horizon: int) -> np.ndarray:
    """The naive forecast: every future step repeats the window's last value.

    Args:
        x: Input windows, `(n, in_len)` or `(n, in_len, features)`.
        horizon: How many steps to forecast.

    Returns:
        The forecasts, `(n, horizon, features)`, float64.
    """
    x = _windows(x)
    horizon = _check_horizon(horizon)
    return np.repeat(x[:, -1:, :], horizon, axis=1)


def seasonal_naive(x: Any, horizon: int, season_length: int) -> np.ndarray:
    """Each future step repeats the value one season earlier (the last season, cycled).

    Args:
        x: Input windows, `(n, in_len)` or `(n, in_len, features)`, with
            `in_len >= season_length`.
        horizon: How many steps to forecast.
        season_length: Steps per season (52 for weekly data with a yearly cycle).

    Returns:
        The forecasts, `(n, horizon, features)`, float64.
    """
    x = _windows(x)
    horizon = _check_horizon(horizon)
    season_length = _check_season(season_length, x.shape[1], SEASONS_NEEDED["seasonal_naive"])
    last_season = x[:, -season_length:, :]  # (n, m, features)
    return last_season[:, np.arange(horizon) % season_length, :]


def seasonal_naive_drift(x: Any, horizon: int, season_length: int) -> np.ndarray:
    """The seasonal naive forecast plus the window's average change over one season.

    The textbook's random walk with lag `m` and drift (Hyndman and
    Athanasopoulos, FPP3 section 5.2; fable's `SNAIVE(y ~ drift())`): with
    `c` the mean of the seasonal differences `y[t] - y[t-m]` over the window,
    `y[T+h] = y[T+h-m(k+1)] + (k+1) c` where `k = (h-1) // m`. For `h <= m`
    that is last season's value plus `c`, the average yearly change for
    weekly data with `m = 52`. It is exact on a linear trend plus any
    `m`-periodic pattern.

    Args:
        x: Input windows, `(n, in_len)` or `(n, in_len, features)`, with
            `in_len >= 2 * season_length`.
        horizon: How many steps to forecast.
        season_length: Steps per season.

    Returns:
        The forecasts, `(n, horizon, features)`, float64.
    """
    x = _windows(x)
    horizon = _check_horizon(horizon)
    m = _check_season(season_length, x.shape[1], SEASONS_NEEDED["seasonal_naive_drift"])
    drift = np.mean(x[:, m:, :] - x[:, :-m, :], axis=1, keepdims=True)  # (n, 1, features)
    seasons_ahead = (np.arange(horizon) // m + 1)[None, :, None]  # (1, horizon, 1)
    return seasonal_naive(x, horizon, m) + seasons_ahead * drift


def holt_winters(
    x: Any, horizon: int, season_length: int
) -> tuple[np.ndarray, dict[str, int | float]]:
    """Holt-Winters with additive trend and season, fitted on each window by statsmodels.

    Each window (and feature) gets its own
    `statsmodels.tsa.holtwinters.ExponentialSmoothing(trend="add",
    seasonal="add", seasonal_periods=season_length,
    initialization_method="heuristic")`: the initial level, trend and season
    come from a decomposition of the first two seasons (Hyndman et al.,
    *Forecasting with Exponential Smoothing*, 2008, section 2.6.1) and only
    the three smoothing parameters are fitted, without statsmodels'
    brute-force search for starting values. On the 178 weekly CO2 test
    windows that takes about 5 s on 2 busy cores; estimating the 54 initial
    states as well (statsmodels' default) took 12 s on idle cores and over a
    minute on busy ones for a MAE of 0.82 ppm instead of 0.84. BLAS runs on
    one thread here: these problems are tiny, and threads waiting for busy
    cores made the fits ten times slower. Warnings of a fit (statsmodels'
    `ConvergenceWarning` and the like) are caught and counted, not shown; a
    fit that raises or forecasts non-finite values is replaced by the
    seasonal naive forecast with drift and counted as failed.

    Args:
        x: Input windows, `(n, in_len)` or `(n, in_len, features)`, with
            `in_len >= 2 * season_length`.
        horizon: How many steps to forecast.
        season_length: Steps per season.

    Returns:
        The forecasts `(n, horizon, features)` and
        `{"windows", "warned", "failed", "seconds"}`: how many fits there were,
        how many warned, how many failed, and the time they took.
    """
    from statsmodels.tsa.holtwinters import ExponentialSmoothing
    from threadpoolctl import threadpool_limits

    x = _windows(x)
    horizon = _check_horizon(horizon)
    m = _check_season(season_length, x.shape[1], SEASONS_NEEDED["holt_winters"])
    started = time.perf_counter()
    forecasts = np.empty((x.shape[0], horizon, x.shape[2]))
    warned = failed = 0
    fallback = None
    for i, feature in np.ndindex(x.shape[0], x.shape[2]):
        with warnings.catch_warnings(record=True) as caught, threadpool_limits(1):
            warnings.simplefilter("always")
            try:
                model = ExponentialSmoothing(
                    x[i, :, feature],
                    trend="add",
                    seasonal="add",
                    seasonal_periods=m,
                    initialization_method="heuristic",
                )
                fitted = model.fit(use_brute=False)
                forecast = np.asarray(fitted.forecast(horizon), dtype=np.float64)
            except (ValueError, ArithmeticError, np.linalg.LinAlgError):
                forecast = None
        warned += bool(caught)
        if forecast is None or not np.all(np.isfinite(forecast)):
            failed += 1
            if fallback is None:
                fallback = seasonal_naive_drift(x, horizon, m)
            forecast = fallback[i, :, feature]
        forecasts[i, :, feature] = forecast
    notes = {
        "windows": x.shape[0] * x.shape[2],
        "warned": warned,
        "failed": failed,
        "seconds": round(time.perf_counter() - started, 2),
    }
    return forecasts, notes


def score_baselines(
    x: Any, y: Any, season_length: int | None = None
) -> tuple[dict[str, float], dict[str, Any]]:
    """MSE and MAE of every baseline that applies, forecasting `y` from `x`.

    Without a season length only the naive (last value) forecast applies;
    with one, the seasonal ones too, as far as the input length allows
    (`seasonal_naive` needs one season in a window, the others two).

    Args:
        x: Input windows, `(n, in_len[, features])`.
        y: Targets, `(n, out_len[, features])`. They are the first `features`
            of `x`; any further input features are covariates, which no
            baseline reads or forecasts.
        season_length: Steps per season, or `None` when the data has no known season.

    Returns:
        `({"<baseline>_mse", "<baseline>_mae", ...}, notes)` for the baselines
        of `BASELINES` that apply, in that order; `notes` holds
        `"season_length"` and, when Holt-Winters ran, its fit counts and time
        under `"holt_winters"` (see `holt_winters`).

    Example:

    >>> import numpy as np
    >>> from seq2seq.forecast_baselines import score_baselines
    >>> scores, notes = score_baselines(np.ones((2, 5)), np.full((2, 3), 2.0))
    >>> scores
    {'naive_mse': 1.0, 'naive_mae': 1.0}
    """
    x = _windows(x)
    y = _windows(y)
    if y.shape[0] != x.shape[0] or y.shape[2] > x.shape[2]:
        raise ValueError(
            "Invalid value for argument `y`. Expected shape (n, out_len, features) with "
            f"n={x.shape[0]} and features <= {x.shape[2]}, the features of `x`. "
            f"Received: y with shape {y.shape}"
        )
    x = x[..., : y.shape[2]]  # the forecast series; any further inputs are covariates
    horizon = y.shape[1]
    forecasts = {"naive": last_value(x, horizon)}
    notes: dict[str, Any] = {"season_length": season_length}
    if season_length is not None:
        _check_season(season_length, x.shape[1], 1)
        seasons = x.shape[1] // season_length
        if seasons >= SEASONS_NEEDED["seasonal_naive"]:
            forecasts["seasonal_naive"] = seasonal_naive(x, horizon, season_length)
        if seasons >= SEASONS_NEEDED["seasonal_naive_drift"]:
            forecasts["seasonal_naive_drift"] = seasonal_naive_drift(x, horizon, season_length)
        if seasons >= SEASONS_NEEDED["holt_winters"]:
            forecasts["holt_winters"], notes["holt_winters"] = holt_winters(
                x, horizon, season_length
            )
    scores = {}
    for name, forecast in forecasts.items():
        scores[f"{name}_mse"] = float(np.mean((forecast - y) ** 2))
        scores[f"{name}_mae"] = float(np.mean(np.abs(forecast - y)))
    return scores, notes
