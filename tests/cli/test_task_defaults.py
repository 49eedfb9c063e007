"""The README's first command learns: `seq2seq train --task dates` at its defaults (slow)."""

import json

import pytest
from cli_helpers import run


@pytest.mark.slow
def test_dates_defaults_reach_99_percent(tmp_path):
    code, out, err = run("train", "--task", "dates", "--out", tmp_path / "dates")
    assert code == 0, err
    report = json.loads((tmp_path / "dates" / "metrics.json").read_text())
    assert report["examples"] == 2500
    assert report["metrics"]["exact_match"] >= 0.99
    code, out, err = run(
        "predict", tmp_path / "dates" / "model.keras", "25 Nov 2026", "March 3, 1999"
    )
    assert code == 0, err
    assert out.splitlines() == ["2026-11-25", "1999-03-03"]
