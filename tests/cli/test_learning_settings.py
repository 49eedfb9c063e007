"""The learning settings of `seq2seq train`: schedule, warm-up, clipping, label smoothing."""

import keras
import numpy as np
import pytest
from cli_helpers import run
from helpers import backend_independent

from seq2seq.commands.errors import CommandError
from seq2seq.commands.train import _alternatives, build_model, learning_rate
from seq2seq.config import load_config, resolve_settings, write_config
from seq2seq.data.vocabularies import build_vocabulary
from seq2seq.losses import TokenCrossEntropy

TEXT_SHAPES = {"input_vocab_size": 9, "output_vocab_size": 8, "output_length": 5}
REAL_SHAPES = {"input_dim": 2, "output_dim": 2, "output_length": 3}


def _rate(schedule, step):
    return float(schedule(step)) if callable(schedule) else schedule


def test_constant_cosine_and_warmup_rates():
    settings = resolve_settings({"learning_rate": 0.01, "epochs": 4})
    assert learning_rate(settings, steps_per_epoch=25) == 0.01
    cosine = learning_rate({**settings, "schedule": "cosine"}, steps_per_epoch=25)
    assert [round(_rate(cosine, s), 6) for s in (0, 50, 100)] == [0.01, 0.005, 0.0]
    warm = learning_rate({**settings, "schedule": "cosine", "warmup_steps": 20}, 25)
    rates = [_rate(warm, s) for s in (0, 10, 20, 60, 100)]
    np.testing.assert_allclose(rates, [0.0, 0.005, 0.01, 0.005, 0.0], atol=1e-7)
    flat_warm = learning_rate({**settings, "warmup_steps": 10}, 25)
    np.testing.assert_allclose([_rate(flat_warm, s) for s in (0, 5, 10, 90)],
                               [0.0, 0.005, 0.01, 0.01], atol=1e-7)  # fmt: skip


def test_model_gets_clipping_smoothing_and_dropout():
    settings = resolve_settings(
        {"clip_norm": 1.5, "label_smoothing": 0.1, "dropout": 0.3, "hidden": 4, "embedding_dim": 4}
    )
    model = build_model(settings, TEXT_SHAPES, text=True)
    assert model.optimizer.clipnorm == 1.5
    assert isinstance(model.loss, TokenCrossEntropy) and model.loss.label_smoothing == 0.1
    assert model.dropout == 0.3 and model.encoder.dropout == 0.3
    plain = build_model(resolve_settings({"hidden": 4}), REAL_SHAPES, text=False)
    assert plain.optimizer.clipnorm is None and plain.loss == "mse"
    assert not model.optimizer.use_ema and not plain.optimizer.use_ema


def test_encoder_and_decoder_depths_override_depth():
    shapes, base = TEXT_SHAPES, {"hidden": 4, "embedding_dim": 4, "depth": 2}
    model = build_model(resolve_settings({**base, "encoder_depth": 3}), shapes, text=True)
    assert (model.encoder_depth, model.decoder_depth) == (3, 2)
    model = build_model(resolve_settings({**base, "decoder_depth": 1}), shapes, text=True)
    assert (model.encoder_depth, model.decoder_depth) == (2, 1)
    model = build_model(resolve_settings(base), shapes, text=True)
    assert (model.encoder_depth, model.decoder_depth) == (2, 2) and model.depth == 2


@backend_independent
def test_ema_trains_a_run_that_keeps_the_average(tmp_path):
    out = tmp_path / "run"
    status, _, err = run("train", "--task", "reverse", "--max-examples", "200", "--epochs", "1",
                         "--hidden", "8", "--ema", "0.9", "--out", str(out))  # fmt: skip
    assert status == 0, err
    assert "ema = 0.9" in (out / "config.toml").read_text()
    settings = resolve_settings({"ema": 0.9, "hidden": 4})
    model = build_model(settings, REAL_SHAPES, text=False)
    assert model.optimizer.use_ema and model.optimizer.ema_momentum == 0.9


@pytest.mark.parametrize("given", [True, False, None])
def test_jit_compile_setting_reaches_the_model(given):
    # None is Keras' "auto": XLA on JAX, eager on TensorFlow (the library's choice, see
    # `Seq2SeqModel.compile`) and on PyTorch.
    settings = resolve_settings({"jit_compile": given, "hidden": 4})
    model = build_model(settings, REAL_SHAPES, text=False)
    expected = keras.backend.backend() == "jax" if given is None else given
    assert model.jit_compile is expected


@backend_independent
def test_jit_compile_flag_is_written_with_the_run_and_read_from_a_config(tmp_path):
    out = tmp_path / "run"
    status, _, err = run("train", "--task", "reverse", "--max-examples", "64", "--epochs", "1",
                         "--hidden", "4", "--embedding-dim", "4", "--jit-compile",
                         "--out", str(out))  # fmt: skip
    assert status == 0, err
    written = load_config(out / "config.toml")
    assert written["jit_compile"] is True
    assert resolve_settings({}, written)["jit_compile"] is True
    assert resolve_settings({"jit_compile": False}, written)["jit_compile"] is False
    write_config(resolve_settings({}), tmp_path / "default.toml")  # the backend's choice
    assert "jit_compile" not in load_config(tmp_path / "default.toml")


def test_label_smoothing_is_refused_for_real_values():
    settings = resolve_settings({"label_smoothing": 0.1, "hidden": 4})
    with pytest.raises(CommandError, match="--label-smoothing applies to text"):
        build_model(settings, REAL_SHAPES, text=False)


def test_cosine_schedule_survives_a_save(tmp_path):
    settings = resolve_settings({"schedule": "cosine", "warmup_steps": 3, "hidden": 4,
                                 "embedding_dim": 4, "label_smoothing": 0.1})  # fmt: skip
    model = build_model(settings, TEXT_SHAPES, text=True, steps_per_epoch=10)
    x = np.array([[4, 5, 2, 0]] * 4, dtype="int32")
    y = np.array([[5, 4, 2, 0, 0]] * 4, dtype="int32")
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.loss, TokenCrossEntropy) and loaded.loss.label_smoothing == 0.1
    assert float(loaded.optimizer.learning_rate) == pytest.approx(
        float(model.optimizer.learning_rate)
    )


def test_selection_on_exact_match_is_refused_for_real_values(tmp_path):
    status, _, err = run("train", "--task", "co2", "--select-on", "exact_match",
                         "--out", str(tmp_path / "run"))  # fmt: skip
    assert status == 2
    assert "--select-on exact_match: applies to text (token) data" in err


def test_precision_builds_a_mixed_model_that_its_file_keeps(tmp_path):
    settings = resolve_settings({"precision": "mixed_bfloat16", "hidden": 4, "embedding_dim": 4})
    model = build_model(settings, TEXT_SHAPES, text=True)
    assert model.dtype_policy.name == "mixed_bfloat16"
    assert model.decoder.cells[0].compute_dtype == "bfloat16"
    assert build_model(resolve_settings({"hidden": 4}), REAL_SHAPES, False).dtype_policy.name == (
        "float32"
    )
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.dtype_policy.name == "mixed_bfloat16"
    assert loaded.decoder.cells[0].compute_dtype == "bfloat16"


@backend_independent
def test_auto_precision_is_recorded_resolved_in_the_run_folder(tmp_path, monkeypatch):
    """`--precision auto` trains in `hardware.fast_precision()`'s policy, and the run's
    config.toml records that policy, so a resumed run keeps it on any machine."""
    from seq2seq import hardware
    from seq2seq.config import load_config

    monkeypatch.setattr(hardware, "fast_precision", lambda: "mixed_bfloat16")
    out = tmp_path / "run"
    status, _, err = run("train", "--task", "reverse", "--precision", "auto", "--epochs", "1",
                         "--max-examples", "64", "--hidden", "8", "--out", str(out))  # fmt: skip
    assert status == 0, err
    assert load_config(out / "config.toml")["precision"] == "mixed_bfloat16"
    assert keras.saving.load_model(out / "model.keras").dtype_policy.name == "mixed_bfloat16"


def test_precision_is_checked(tmp_path):
    status, _, err = run("train", "--task", "reverse", "--precision", "float16",
                         "--out", str(tmp_path / "run"))  # fmt: skip
    assert status == 2
    assert "float16" in err and "mixed_bfloat16" in err


def test_selection_scores_every_reference_of_a_validation_source():
    """Selection on exact match counts a validation output right on any reference of its
    source (`_alternatives` feeds them to `ValidationExactMatch`), as the test split is
    scored; a reference longer than the model's outputs is left out."""
    vocabulary = build_vocabulary(["R EH D", "R IY D", "T OW"], "word", None, 0)
    part = {
        "targets": ["R EH D", "T OW"],
        "references": [["R EH D", "R IY D", "R IY D R IY D"], ["T OW"]],
    }
    rows, targets = _alternatives(part, vocabulary, output_length=4)
    assert rows.tolist() == [0]
    assert targets.tolist() == vocabulary.encode(["R IY D"], max_length=4).tolist()
    assert _alternatives({"targets": ["T OW"], "references": [["T OW"]]}, vocabulary, 4) is None


@backend_independent
def test_a_time_budget_trains_the_epochs_that_fit(tmp_path):
    """A budget of 0.06 s is spent by the first epoch: the run stops there, says so, and
    scores the model as usual; its config.toml keeps the budget for a resume."""
    import json

    from seq2seq.config import load_config

    out = tmp_path / "run"
    status, printed, err = run("train", "--task", "reverse", "--epochs", "4", "--max-examples",
                               "64", "--hidden", "8", "--schedule", "cosine", "--time-budget",
                               "0.001", "--out", str(out))  # fmt: skip
    assert status == 0, err
    assert "minutes spent, no epoch without compiling: training 1 of 4 epochs" in printed
    assert json.loads((out / "metrics.json").read_text())["epochs"] == 1
    assert load_config(out / "config.toml")["time_budget"] == 0.001
    assert resolve_settings({}, {}, task="g2p")["time_budget"] == 57
    assert resolve_settings({})["time_budget"] == 0  # no limit unless asked


def test_a_time_budget_is_refused_on_several_processes(tmp_path, monkeypatch):
    """Each process would plan on its own clock; `--time-budget 0` lifts the budget."""
    from seq2seq.commands import train as train_command
    from seq2seq.training import distribution

    several = distribution.Processes(process_id=0, num_processes=2, num_devices=2)
    monkeypatch.setattr(distribution, "start", lambda batch_size: several)
    settings = resolve_settings({"task": "reverse", "time_budget": 5.0, "distribute": True})
    with pytest.raises(CommandError) as error:
        train_command.train(settings)
    assert str(error.value) == (
        "--time-budget: not supported with --distribute on several processes; give --time-budget 0"
    )
