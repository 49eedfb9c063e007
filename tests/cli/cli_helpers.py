"""Running the command line in-process and reading what it printed."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import numpy as np

from seq2seq.cli import main

METRIC_LINE = re.compile(r"^  (\w+)\s+(-?[0-9.]+)$")


def run(*args: str) -> tuple[int, str, str]:
    """Calls `seq2seq.cli.main(args)`; returns `(exit status, stdout, stderr)`."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(arg) for arg in args])
    return code, out.getvalue(), err.getvalue()


def printed_metrics(stdout: str) -> dict[str, float]:
    """The `  name  value` lines of a printed score table."""
    found = {}
    for line in stdout.splitlines():
        match = METRIC_LINE.match(line)
        if match:
            found[match.group(1)] = float(match.group(2))
    return found


def assert_printed_matches(stdout: str, report: dict) -> None:
    """Every metric of a JSON report is printed, rounded to 4 decimals, and nothing else."""
    printed = printed_metrics(stdout)
    assert set(printed) == set(report["metrics"])
    for name, value in report["metrics"].items():
        assert printed[name] == round(value, 4), name


def train_relative_npz(folder: Path, x, y) -> str:
    """Saves `x`, `y` as `folder/series.npz` and trains a tiny `--relative` model on it
    into `folder/run`, for one epoch; returns what the command printed."""
    np.savez(folder / "series.npz", x=x, y=y)
    code, out, err = run(
        "train", folder / "series.npz", "--relative", "--hidden", "6", "--epochs", "1",
        "--out", folder / "run",
    )  # fmt: skip
    assert code == 0, err
    return out
