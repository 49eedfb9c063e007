"""Wrong outputs listed with their references: in metrics.json, and by `evaluate --errors N`."""

import json

from cli_helpers import run
from helpers import backend_independent

from seq2seq.commands.inference import format_report, wrong_predictions


def test_the_first_wrong_outputs_in_order_any_reference_counts_as_right():
    sources = ["read", "tomato", "cat", "dog", "live"]
    predictions = ["R IY D", "T AH M AA T OW", "K AE D", "D AA G", "L AY"]
    references = [["R EH D", "R IY D"], ["T AH M EY T OW"], ["K AE T"], ["D AO G"], ["L IH V"]]
    wrong = wrong_predictions(sources, predictions, references, limit=2)
    assert wrong == [
        {"source": "tomato", "prediction": "T AH M AA T OW", "references": ["T AH M EY T OW"]},
        {"source": "cat", "prediction": "K AE D", "references": ["K AE T"]},
    ]
    assert len(wrong_predictions(sources, predictions, references, limit=10)) == 4
    report = {"data": "task g2p", "split": "test", "examples": 5, "metrics": {"wer": 0.8},
              "errors": wrong}  # fmt: skip
    assert format_report(report).splitlines()[-3:] == [
        "First 2 wrong outputs (input -> output | reference):",
        "  tomato -> T AH M AA T OW | T AH M EY T OW",
        "  cat -> K AE D | K AE T",
    ]


@backend_independent
def test_train_writes_and_evaluate_prints_the_wrong_outputs(tmp_path):
    out = tmp_path / "run"
    code, _, err = run("train", "--task", "reverse", "--max-examples", "200", "--epochs", "1",
                       "--hidden", "8", "--embedding-dim", "8", "--out", out)  # fmt: skip
    assert code == 0, err
    report = json.loads((out / "metrics.json").read_text())
    assert len(report["errors"]) == 10  # an untrained model gets more than 10 wrong
    assert all(e["prediction"] not in e["references"] for e in report["errors"])
    code, printed, err = run("evaluate", out / "model.keras", "--task", "reverse", "--errors", "3")
    assert code == 0, err
    listed = printed.splitlines()
    start = listed.index("First 3 wrong outputs (input -> output | reference):")
    assert listed[start + 1 : start + 4] == [
        f"  {e['source']} -> {e['prediction']} | {e['references'][0]}" for e in report["errors"][:3]
    ]
