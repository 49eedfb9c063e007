"""train -> evaluate -> predict on a TSV, an .npz and two built-in tasks, at tiny sizes."""

import csv
import io
import json
import sys

import numpy as np
import pytest
from cli_helpers import assert_printed_matches, run, train_relative_npz
from helpers import backend_independent

from seq2seq.data.tasks import get_task
from seq2seq.models import AttentionSeq2Seq, Seq2Seq

WORDS = ("cat", "dog", "bird", "fish", "cow", "hen")
RUN_FILES = ("model.keras", "config.toml", "history.csv", "curves.png", "metrics.json")


def _history_rows(run_dir):
    with open(run_dir / "history.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def _train(tmp_path_factory, name, *args):
    folder = tmp_path_factory.mktemp(name)
    code, out, err = run("train", *args, "--out", folder / "run")
    assert code == 0, err
    return folder, out


@pytest.fixture(scope="module")
def tsv_run(tmp_path_factory):
    """Word-level pairs (three words -> reversed), settings from a config file and flags."""
    folder = tmp_path_factory.mktemp("tsv")
    rng = np.random.default_rng(0)
    lines = []
    for _ in range(60):
        words = list(rng.choice(WORDS, size=3))
        lines.append(" ".join(words) + "\t" + " ".join(reversed(words)))
    (folder / "pairs.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "run.toml").write_text(
        'level = "word"\nmodel = "seq2seq"\nhidden = 12\nembedding-dim = 8\nepochs = 5\n',
        encoding="utf-8",
    )
    code, out, err = run(
        "train", folder / "pairs.tsv", "--config", folder / "run.toml", "--epochs", "1",
        "--out", folder / "run",
    )  # fmt: skip
    assert code == 0, err
    return folder, out


def test_tsv_train_writes_the_run_folder(tsv_run):
    folder, out = tsv_run
    run_dir = folder / "run"
    for name in RUN_FILES:
        assert (run_dir / name).stat().st_size > 0, name
    assert not (run_dir / "attention.png").exists()  # Seq2Seq has no attention
    assert len(_history_rows(run_dir)) == 1
    report = json.loads((run_dir / "metrics.json").read_text())
    # The 60 lines hold 53 distinct sources; 10% of them are held out for the test.
    assert report["split"] == "test" and report["examples"] == 5 and report["level"] == "word"
    assert set(report["metrics"]) == {"exact_match", "token_error_rate", "bleu", "chrf"}
    assert_printed_matches(out, report)


def test_config_file_and_flags_combine(tsv_run):
    import keras

    folder, _ = tsv_run
    written = (folder / "run" / "config.toml").read_text()
    # epochs: the flag beats the config file; hidden and level come from the file.
    assert "epochs = 1\n" in written and "hidden = 12\n" in written
    assert 'level = "word"\n' in written and "embedding_dim = 8\n" in written
    model = keras.saving.load_model(folder / "run" / "model.keras", compile=False)
    assert isinstance(model, Seq2Seq) and model.hidden_dim == 12
    assert model.target_vocabulary.level == "word"
    assert sorted(model.source_vocabulary.tokens) == sorted(WORDS)


def test_tsv_evaluate_scores_the_whole_file(tsv_run, tmp_path):
    folder, _ = tsv_run
    output = tmp_path / "scores.json"
    code, out, err = run(
        "evaluate", folder / "run" / "model.keras", folder / "pairs.tsv", "--json", output
    )
    assert code == 0, err
    report = json.loads(output.read_text())
    assert report["examples"] == 53 and report["split"] == "all"  # each distinct source once
    assert report["data"].endswith("pairs.tsv")
    assert_printed_matches(out, report)


def test_tsv_predict_reads_arguments_file_and_stdin(tsv_run, monkeypatch):
    folder, _ = tsv_run
    model = folder / "run" / "model.keras"
    inputs = ["cat dog cow", "hen hen bird"]
    (folder / "inputs.txt").write_text("\n".join(inputs) + "\n", encoding="utf-8")
    code, from_args, err = run("predict", model, *inputs)
    assert code == 0, err
    lines = from_args.splitlines()
    assert len(lines) == 2 and all(set(line.split()) <= set(WORDS) for line in lines)
    assert run("predict", model, "--file", folder / "inputs.txt")[1] == from_args
    stdin = io.TextIOWrapper(io.BytesIO("\n".join(inputs).encode()), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)
    assert run("predict", model)[1] == from_args


@pytest.fixture(scope="module")
def npz_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("npz")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 5, 1)).astype("float32")
    y = (x[:, -3:, :] * 0.5).astype("float32")
    return folder, train_relative_npz(folder, x, y), x, y


def test_npz_train_evaluate_predict(npz_run, tmp_path):
    import keras

    folder, out, x, y = npz_run
    run_dir = folder / "run"
    for name in RUN_FILES:
        assert (run_dir / name).exists(), name
    report = json.loads((run_dir / "metrics.json").read_text())
    assert set(report["metrics"]) == {"mse", "mae", "naive_mse", "naive_mae"}
    assert report["relative"] is True
    assert "relative = true\n" in (run_dir / "config.toml").read_text()
    assert_printed_matches(out, report)

    code, out, err = run("evaluate", run_dir / "model.keras", folder / "series.npz")
    assert code == 0, err
    report = json.loads((run_dir / "evaluation-series.json").read_text())
    assert report["examples"] == 30
    # The naive forecast repeats each input's last value.
    naive = np.broadcast_to(x[:, -1:, :], y.shape)
    assert report["metrics"]["naive_mse"] == pytest.approx(np.mean((naive - y) ** 2), rel=1e-6)
    assert_printed_matches(out, report)

    code, out, err = run("predict", run_dir / "model.keras", "--file", folder / "series.npz")
    assert code == 0, err
    rows = [[float(v) for v in line.split()] for line in out.splitlines()]
    assert len(rows) == 30 and all(len(row) == 3 for row in rows)
    # predict, like evaluate, reads `relative` from config.toml and adds the last step back.
    mse = np.mean((np.array(rows)[..., None] - y) ** 2)
    assert mse == pytest.approx(report["metrics"]["mse"], rel=1e-3)
    model = keras.saving.load_model(run_dir / "model.keras", compile=False)
    raw = model.predict(x - x[:, -1:], verbose=0) + x[:, -1:]
    np.testing.assert_allclose(np.array(rows)[..., None], raw, rtol=1e-4, atol=1e-5)


@pytest.fixture(scope="module")
def g2p_run(tmp_path_factory):
    return _train(
        tmp_path_factory, "g2p", "--task", "g2p", "--max-examples", "40", "--epochs", "1",
        "--hidden", "8", "--embedding-dim", "8", "--seed", "3",
    )  # fmt: skip


@backend_independent
def test_g2p_reports_phoneme_and_word_error_rates(g2p_run):
    folder, out = g2p_run
    run_dir = folder / "run"
    assert (run_dir / "attention.png").stat().st_size > 0
    report = json.loads((run_dir / "metrics.json").read_text())
    scores = report["metrics"]
    assert set(scores) == {"exact_match", "phoneme_error_rate", "word_error_rate", "bleu", "chrf"}
    assert scores["word_error_rate"] == pytest.approx(1 - scores["exact_match"])
    assert report["data"] == "task g2p" and report["level"] == "word"
    assert_printed_matches(out, report)


@backend_independent
def test_g2p_evaluate_uses_the_training_split(g2p_run):
    folder, _ = g2p_run
    run_dir = folder / "run"
    code, out, err = run("evaluate", run_dir / "model.keras", "--task", "g2p")
    assert code == 0, err
    evaluated = json.loads((run_dir / "evaluation-g2p.json").read_text())
    trained = json.loads((run_dir / "metrics.json").read_text())
    # The seed and size recorded in config.toml give the same test words.
    assert evaluated["examples"] == trained["examples"]
    assert evaluated["metrics"] == pytest.approx(trained["metrics"])
    assert_printed_matches(out, evaluated)


@backend_independent
def test_g2p_predict_with_beam_and_attention(g2p_run, tmp_path):
    import keras

    folder, _ = g2p_run
    model_path = folder / "run" / "model.keras"
    picture = tmp_path / "alignment.png"
    code, out, err = run("predict", model_path, "hello", "world", "--beam", "2",
                         "--attention", picture)  # fmt: skip
    assert code == 0, err
    model = keras.saving.load_model(model_path, compile=False)
    assert isinstance(model, AttentionSeq2Seq)
    lines = out.splitlines()
    assert len(lines) == 2
    phonemes = set(model.target_vocabulary.tokens) | {"<unk>"}
    assert all(set(line.split()) <= phonemes for line in lines)
    assert picture.stat().st_size > 0


@pytest.fixture(scope="module")
def co2_run(tmp_path_factory):
    return _train(
        tmp_path_factory, "co2", "--task", "co2", "--max-examples", "30", "--epochs", "1",
        "--hidden", "4", "--model", "simple",
    )  # fmt: skip


@backend_independent
def test_co2_reports_errors_in_ppm(co2_run):
    folder, out = co2_run
    run_dir = folder / "run"
    report = json.loads((run_dir / "metrics.json").read_text())
    scores = report["metrics"]
    std = get_task("co2").load(num_examples=30)["scaling"]["std"]
    assert scores["mae_original_units"] == pytest.approx(scores["mae"] * std)
    assert scores["naive_mae_original_units"] == pytest.approx(scores["naive_mae"] * std)
    assert_printed_matches(out, report)
    code, out, err = run("evaluate", run_dir / "model.keras", "--task", "co2")
    assert code == 0, err
    evaluated = json.loads((run_dir / "evaluation-co2.json").read_text())
    assert evaluated["metrics"] == pytest.approx(scores, rel=1e-5)


def test_tasks_lists_each_task_on_one_line():
    code, out, _ = run("tasks")
    assert code == 0
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == [
        "reverse",
        "sort",
        "addition",
        "dates",
        "g2p",
        "co2",
    ]
    assert "char->word" in lines[4] and "real" in lines[5]
