"""Forecasting weekly Mauna Loa CO2 concentrations (statsmodels' `co2` data set)."""

from __future__ import annotations

import functools

import numpy as np

from seq2seq.data.tasks.splits import SPLITS

INPUT_LENGTH = 104
OUTPUT_LENGTH = 52
# Weeks in the yearly cycle of the series, for the seasonal baselines.
SEASON_LENGTH = 52
# Windows are assigned by where their target weeks fall: the first 80% of the
# series for train, the next 10% for validation, the last 10% for test.
SPLIT_POINTS = (0.8, 0.9)


@functools.lru_cache(maxsize=1)
def weekly_series() -> tuple[np.ndarray, tuple[str, ...]]:
    """The weekly CO2 series in ppm, gaps filled by linear interpolation, and its dates."""
    from statsmodels.datasets import co2

    frame = co2.load_pandas().data
    values = frame["co2"].interpolate(method="linear").bfill().ffill()
    dates = tuple(stamp.date().isoformat() for stamp in frame.index)
    return values.to_numpy(dtype=np.float64), dates


def enso_anomaly(dates: tuple[str, ...], train_weeks: int) -> np.ndarray:
    """An El Niño index for each week: the Niño 1+2 sea-surface temperature anomaly.

    statsmodels' `elnino` data set (monthly mean temperature of the Niño 1+2
    region, 1950-2010) minus each calendar month's mean over the years of the
    first `train_weeks` weeks, divided by the standard deviation of those
    anomalies. A week gets the anomaly of the last month that ended before
    it, so a window's index holds no information from after its last week.

    Returns:
        `(len(dates),)` float64, in units of the training years' standard deviation.
    """
    from statsmodels.datasets import elnino

    table = elnino.load_pandas().data
    years = table["YEAR"].to_numpy(dtype=int)
    sst = table.iloc[:, 1:13].to_numpy(dtype=np.float64)  # (years, 12)
    first_year = int(years[0])
    # The month before each week, counted from January of the table's first year.
    months = np.array([(int(d[:4]) - first_year) * 12 + int(d[5:7]) - 2 for d in dates])
    if months.min() < 0 or months.max() >= sst.size:
        raise ValueError(
            f"Invalid value for argument `dates`. Expected dates within the El Niño table's "
            f"years {first_year}-{years[-1]}. Received: dates from {dates[0]} to {dates[-1]}"
        )
    flat = sst.reshape(-1)
    train_months = np.arange(months[0], months[train_weeks - 1] + 1)
    climatology = np.array(
        [flat[train_months[train_months % 12 == month]].mean() for month in range(12)]
    )
    anomaly = flat - np.tile(climatology, len(years))
    return anomaly[months] / anomaly[train_months].std()


def _windows(
    series: np.ndarray, starts: np.ndarray, input_length: int, covariate: np.ndarray | None
) -> dict[str, np.ndarray]:
    steps_in = np.arange(-input_length, 0)
    steps_out = np.arange(OUTPUT_LENGTH)
    inputs = starts[:, None] + steps_in[None, :]  # (n, in_len)
    x = series[inputs][..., None]  # (n, in_len, 1)
    if covariate is not None:
        x = np.concatenate([x, covariate[inputs][..., None]], axis=-1)  # (n, in_len, 2)
    y = series[starts[:, None] + steps_out[None, :]]  # (n, out_len)
    return {
        "x": x.astype(np.float32),
        "y": y[..., None].astype(np.float32),
        "t": starts.astype(np.int64),
    }


def load_co2(
    num_examples: int | None,
    seed: int,
    input_length: int = INPUT_LENGTH,
    enso: bool = False,
) -> dict:
    """Predict the next 52 weeks of CO2 from the past `input_length` weeks, split by time.

    Args:
        num_examples: How many windows in all, taken evenly spaced within each
            split; `None` keeps every window (stride one week).
        seed: Unused: the windows are fixed by the series.
        input_length: Weeks in each input window. The validation and test
            windows' targets do not depend on it; the first training window
            starts `input_length` weeks into the series.
        enso: Add the El Niño index of `enso_anomaly` as a second input
            feature, over the input weeks only; the targets stay CO2 alone.

    Returns:
        `{"train"|"validation"|"test": {"x", "y", "t"}, "scaling": {"mean", "std"},
        "dates": tuple of ISO dates of the series, "input_length", "output_length"}`.
        `x` is `(n, input_length, 1)`, or `(n, input_length, 2)` with `enso`
        (CO2 first); `y` is `(n, 52, 1)`. `t` is the series position of each
        window's first target week.
    """
    del seed
    if isinstance(input_length, bool) or not isinstance(input_length, int) or input_length < 1:
        raise ValueError(
            f"Invalid value for argument `input_length`. Expected a positive int. "
            f"Received: input_length={input_length!r}"
        )
    raw, dates = weekly_series()
    total = len(raw)
    first_cut, second_cut = (int(total * point) for point in SPLIT_POINTS)
    if input_length > first_cut - OUTPUT_LENGTH:
        raise ValueError(
            f"Invalid value for argument `input_length`. Expected at most "
            f"{first_cut - OUTPUT_LENGTH} weeks, to leave training windows. "
            f"Received: input_length={input_length}"
        )
    mean = float(raw[:first_cut].mean())
    std = float(raw[:first_cut].std())
    series = (raw - mean) / std
    covariate = enso_anomaly(dates, first_cut) if enso else None
    bounds = {
        "train": (input_length, first_cut),
        "validation": (first_cut, second_cut),
        "test": (second_cut, total),
    }
    starts = {
        name: np.arange(low, high - OUTPUT_LENGTH + 1) for name, (low, high) in bounds.items()
    }
    available = sum(len(s) for s in starts.values())
    if num_examples is not None and num_examples < available:
        for name in SPLITS:
            keep = max(1, round(len(starts[name]) * num_examples / available))
            index = np.linspace(0, len(starts[name]) - 1, keep).round().astype(int)
            starts[name] = starts[name][index]
    out: dict = {name: _windows(series, starts[name], input_length, covariate) for name in SPLITS}
    out["scaling"] = {"mean": mean, "std": std}
    out["dates"] = dates
    out["input_length"] = input_length
    out["output_length"] = OUTPUT_LENGTH
    return out
