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


def _windows(series: np.ndarray, starts: np.ndarray) -> dict[str, np.ndarray]:
    steps_in = np.arange(-INPUT_LENGTH, 0)
    steps_out = np.arange(OUTPUT_LENGTH)
    x = series[starts[:, None] + steps_in[None, :]]  # (n, in_len)
    y = series[starts[:, None] + steps_out[None, :]]  # (n, out_len)
    return {
        "x": x[..., None].astype(np.float32),
        "y": y[..., None].astype(np.float32),
        "t": starts.astype(np.int64),
    }


def load_co2(num_examples: int | None, seed: int) -> dict:
    """Predict the next 52 weeks of CO2 from the past 104, split by time.

    Args:
        num_examples: How many windows in all, taken evenly spaced within each
            split; `None` keeps every window (stride one week).
        seed: Unused: the windows are fixed by the series.

    Returns:
        `{"train"|"validation"|"test": {"x", "y", "t"}, "scaling": {"mean", "std"},
        "dates": tuple of ISO dates of the series, "input_length", "output_length"}`.
        `t` is the series position of each window's first target week.
    """
    del seed
    raw, dates = weekly_series()
    total = len(raw)
    first_cut, second_cut = (int(total * point) for point in SPLIT_POINTS)
    mean = float(raw[:first_cut].mean())
    std = float(raw[:first_cut].std())
    series = (raw - mean) / std
    bounds = {
        "train": (INPUT_LENGTH, first_cut),
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
    out: dict = {name: _windows(series, starts[name]) for name in SPLITS}
    out["scaling"] = {"mean": mean, "std": std}
    out["dates"] = dates
    out["input_length"] = INPUT_LENGTH
    out["output_length"] = OUTPUT_LENGTH
    return out
