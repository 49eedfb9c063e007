"""Loading a saved model, predicting with it and scoring its predictions.

Shared by `train` (test metrics, attention plot), `evaluate` and `predict`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from seq2seq import forecast_baselines, metrics, models
from seq2seq.commands.datasets import Dataset
from seq2seq.commands.errors import CommandError
from seq2seq.config import PREDICT_BATCH_SIZE, ConfigError, load_config
from seq2seq.data.tasks import get_task
from seq2seq.data.vocabulary import END_TOKEN
from seq2seq.models import Seq2SeqModel
from seq2seq.plotting import plot_attention

RUN_CONFIG = "config.toml"
# Tasks whose outputs are scored with their own names for the error rates.
G2P_TASK = "g2p"


def load_model(path: str | os.PathLike) -> Seq2SeqModel:
    """Loads a `.keras` file written by `seq2seq train` (or any saved seq2seq model).

    A thin wrapper of `seq2seq.models.load_model` (safe mode, and files that
    carry code refused before Keras reads them) for the commands.

    Args:
        path: The `.keras` file.

    Returns:
        The model, not compiled.

    Raises:
        CommandError: The file is missing, is not a loadable `.keras` file,
            carries code, or holds another kind of model (one line naming the file).

    Example:

    >>> from seq2seq.commands.inference import load_model
    >>> model = load_model("runs/dates/model.keras")  # doctest: +SKIP
    """
    try:
        return models.load_model(path, compile=False)
    except (FileNotFoundError, ValueError) as error:
        raise CommandError(str(error)) from None


def is_text_model(model: keras.Model) -> bool:
    """Whether `model` maps texts to texts (token input and output with vocabularies)."""
    return (
        getattr(model, "token_mode", False)
        and getattr(model, "token_input", False)
        and model.source_vocabulary is not None
        and model.target_vocabulary is not None
    )


def check_compatible(model: keras.Model, model_path: str, dataset: Dataset) -> None:
    """Raises `CommandError` unless `dataset` is the kind of data `model` reads."""
    if dataset.kind == "text" and not is_text_model(model):
        raise CommandError(
            f"{model_path}: the model reads real-valued arrays (an .npz file or a real task), "
            f"but {dataset.description} holds text pairs"
        )
    if dataset.kind == "real":
        if getattr(model, "token_input", False):
            raise CommandError(
                f"{model_path}: the model reads text, but {dataset.description} holds arrays"
            )
        x = dataset.splits["test"]["x"]
        if x.shape[-1] != model.input_dim:
            raise CommandError(
                f"{dataset.description}: array 'x' has {x.shape[-1]} features, the model "
                f"expects {model.input_dim}"
            )
        y = dataset.splits["test"]["y"]
        if y.shape[-1] != model.output_dim:
            raise CommandError(
                f"{dataset.description}: array 'y' has {y.shape[-1]} features, the model "
                f"outputs {model.output_dim}"
            )


def _generate(
    model: Seq2SeqModel, x: np.ndarray, beam: int, batch_size: int, length_penalty: float = 0.0
) -> dict[str, Any]:
    strategy = "beam" if beam > 1 else "greedy"
    return model.generate(
        x, strategy=strategy, beam_width=beam, length_penalty=length_penalty, batch_size=batch_size
    )


def encode_sources(model: keras.Model, texts: Sequence[str]) -> np.ndarray:
    """Encodes texts with the model's source vocabulary, as in training (end id appended)."""
    return model.source_vocabulary.encode(list(texts))


def predict_texts(
    model: keras.Model,
    texts: Sequence[str],
    beam: int = 1,
    batch_size: int = PREDICT_BATCH_SIZE,
    return_attention: bool = False,
    length_penalty: float = 0.0,
) -> tuple[list[str], np.ndarray | None]:
    """Decodes the model's output for each text (greedy, or beam search with `beam > 1`).

    Args:
        model: A text model (see `is_text_model`).
        texts: The inputs.
        beam: The beam width; 1 decodes greedily.
        batch_size: Inputs decoded together.
        return_attention: Also return the attention weights, when the model has them.
        length_penalty: Beam search's length penalty exponent.

    Returns:
        The predicted strings, and the weights `(n, out_len, in_len)` or `None`.
    """
    x = encode_sources(model, texts)
    result = _generate(model, x, beam, batch_size, length_penalty)
    predictions = model.target_vocabulary.decode(result["ids"])
    attention = result.get("attention") if return_attention else None
    if return_attention and attention is None and hasattr(model, "predict_attention"):
        attention = model.predict_attention(x, batch_size=batch_size)
    return predictions, attention


def relative_inputs(
    x: np.ndarray, y: np.ndarray | None = None, output_features: int | None = None
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Makes the forecast series relative to their last input step: `(x', y', last)`.

    The first `output_features` input features are the series being
    forecast: their last step, `last` `(n, 1, output_features)`, is
    subtracted from them in `x` and from `y`. Any further input features are
    covariates (an index known over the input window, say) and pass through
    unchanged. A model trained on these learns changes from the last known
    value, which carry over to levels never seen in training (a trending
    series); add `last` back to its outputs.

    Args:
        x: Inputs, `(n, in_len, input_features)`.
        y: Targets, `(n, out_len, output_features)`, or `None`.
        output_features: How many of the first input features are forecast;
            defaults to `y`'s features, else every input feature.

    Raises:
        CommandError: `x` has fewer features than are forecast.
    """
    if output_features is None:
        output_features = x.shape[-1] if y is None else y.shape[-1]
    if x.shape[-1] < output_features:
        raise CommandError(
            f"--relative: expected at least as many input as output features (the first "
            f"{output_features} inputs are the series forecast, any others covariates); "
            f"received {x.shape[-1]} input and {output_features} output features"
        )
    last = x[:, -1:, :output_features]  # (n, 1, output_features)
    series = x[..., :output_features] - last
    shifted = np.concatenate([series, x[..., output_features:]], axis=-1)
    return shifted, None if y is None else y - last, last


def predict_values(
    model: keras.Model,
    x: np.ndarray,
    batch_size: int = PREDICT_BATCH_SIZE,
    relative: bool = False,
) -> np.ndarray:
    """The free-running prediction of a real-valued model: `(n, output_length, output_dim)`.

    With `relative=True` the model sees `x` with its first `output_dim`
    features minus their last step (the others, covariates, unchanged) and
    its outputs are shifted back by that step (see `relative_inputs`).
    """
    if not relative:
        return np.asarray(_generate(model, x, 1, batch_size)["outputs"])
    shifted, _, last = relative_inputs(x, output_features=model.output_dim)
    return np.asarray(_generate(model, shifted, 1, batch_size)["outputs"]) + last


def recorded_settings(model_path: str | os.PathLike) -> dict[str, Any]:
    """The settings in the `config.toml` that `seq2seq train` wrote next to a model, if any."""
    path = Path(model_path).parent / RUN_CONFIG
    if not path.is_file():
        return {}
    try:
        return load_config(path)
    except ConfigError:
        return {}


def decoding_settings(
    recorded: Mapping[str, Any], beam: int | None, length_penalty: float | None
) -> tuple[int, float]:
    """The beam width and length penalty to decode with: those given, else the training
    run's (`recorded`, its `config.toml` as `recorded_settings` reads it, so `evaluate`
    reproduces `metrics.json`), else greedy."""
    if beam is None:
        beam = int(recorded.get("beam") or 1)
    if length_penalty is None:
        length_penalty = float(recorded.get("length_penalty") or 0.0)
    return beam, length_penalty


def plot_alignments(
    model: keras.Model,
    texts: Sequence[str],
    predictions: Sequence[str],
    attention: np.ndarray,
    path: str | os.PathLike,
) -> Path:
    """Draws one attention heatmap per input, labelled with source and predicted tokens."""
    sources = [model.source_vocabulary.tokenize(text) + [END_TOKEN] for text in texts]
    targets = [
        (model.target_vocabulary.tokenize(text) + [END_TOKEN])[: attention.shape[1]]
        for text in predictions
    ]
    return plot_attention(list(attention[: len(texts)]), sources, targets, path)


def text_scores(
    predictions: Sequence[str], references: Sequence[Sequence[str]], level: str, task: str | None
) -> dict[str, float]:
    """Exact match, token error rate, BLEU and chrF; for g2p, phoneme and word error rates.

    In g2p a word is correct when it matches any of its listed pronunciations,
    so the word error rate is `1 - exact_match`, and the phoneme error rate is
    the token error rate against the closest pronunciation.
    """
    # Subwords decode to plain text with spaces: their errors count in words.
    level = "word" if level == "subword" else level
    scores = metrics.text_metrics(predictions, references, level=level)
    if task == G2P_TASK:
        return {
            "exact_match": scores["exact_match"],
            "phoneme_error_rate": scores["token_error_rate"],
            "word_error_rate": 1.0 - scores["exact_match"],
            "bleu": scores["bleu"],
            "chrf": scores["chrf"],
        }
    return scores


def score_split(
    model: keras.Model,
    dataset: Dataset,
    split: str = "test",
    beam: int = 1,
    batch_size: int = PREDICT_BATCH_SIZE,
    relative: bool = False,
    length_penalty: float = 0.0,
    errors: int = 0,
) -> dict[str, Any]:
    """Predicts a split and scores it (`relative`: see `predict_values`; `beam` and
    `length_penalty`: beam search for text; `errors`: list up to that many wrong outputs).

    Returns:
        `{"data", "split", "examples", "metrics"}` plus `"level"` and `"beam"`
        for text. Real-valued scores are the model's MSE and MAE and, when
        input and output features match (or, with `relative`, the inputs
        add covariates after the forecast series), those of the baselines of
        `seq2seq.forecast_baselines` computed on the same windows: the naive
        (last value) forecast always, and for a task with a season length
        (`co2`) the seasonal naive forecast, with drift, and Holt-Winters,
        plus `mae_relative_to_holt_winters` (the model's MAE over
        Holt-Winters'); `"baselines"` then notes the season length and the
        Holt-Winters fits (`forecast_baselines.holt_winters`). Every MAE is
        also given in the original units (`*_mae_original_units`) when the
        data was standardised.
    """
    part = dataset.splits[split]
    report: dict[str, Any] = {
        "data": dataset.description,
        "split": split,
        "examples": dataset.size(split),
    }
    if dataset.kind == "text":
        predictions, _ = predict_texts(
            model, part["sources"], beam=beam, batch_size=batch_size, length_penalty=length_penalty
        )
        level = model.target_vocabulary.level
        report.update(level=level, beam=beam)
        if beam > 1:
            report["length_penalty"] = length_penalty
        report["metrics"] = text_scores(predictions, part["references"], level, dataset.task)
        if errors:
            report["errors"] = wrong_predictions(
                part["sources"], predictions, part["references"], errors
            )
        return report
    x, y = part["x"], part["y"]
    predicted = predict_values(model, x, batch_size=batch_size, relative=relative)
    scores = metrics.regression_metrics(y, predicted)
    # With covariates (`relative` only), the baselines forecast the first features alone.
    if x.shape[-1] == y.shape[-1] or (relative and x.shape[-1] > y.shape[-1]):
        season_length = get_task(dataset.task).season_length if dataset.task else None
        baseline_scores, notes = forecast_baselines.score_baselines(x, y, season_length)
        scores.update(baseline_scores)
        if "holt_winters_mae" in scores:
            scores["mae_relative_to_holt_winters"] = scores["mae"] / scores["holt_winters_mae"]
        report["baselines"] = notes
    if dataset.scaling:
        std = dataset.scaling["std"]
        for name in [name for name in scores if name.endswith("_mae") or name == "mae"]:
            scores[f"{name}_original_units"] = scores[name] * std
    report["metrics"] = scores
    if relative:
        report["relative"] = True
    return report


def wrong_predictions(
    sources: Sequence[str],
    predictions: Sequence[str],
    references: Sequence[Sequence[str]],
    limit: int,
) -> list[dict[str, Any]]:
    """The first `limit` examples whose prediction matches none of their references."""
    wrong = []
    for source, predicted, refs in zip(sources, predictions, references):
        if predicted not in refs:
            wrong.append({"source": source, "prediction": predicted, "references": list(refs)})
            if len(wrong) == limit:
                break
    return wrong


def format_report(report: Mapping[str, Any]) -> str:
    """The lines printed for a score report: a title, then one metric per line."""
    where = (
        report["data"] if report["split"] == "all" else f"{report['data']}, {report['split']} split"
    )
    title = f"{where}: {report['examples']} examples"
    if report.get("beam", 1) > 1:
        title += f", beam {report['beam']}"
    width = max(len(name) for name in report["metrics"])
    lines = [title]
    lines += [f"  {name:<{width}}  {value:.4f}" for name, value in report["metrics"].items()]
    fits = report.get("baselines", {}).get("holt_winters")
    if fits:
        lines.append(
            f"  (Holt-Winters: {fits['windows']} fits in {fits['seconds']:.1f} s, "
            f"{fits['warned']} warned, {fits['failed']} failed and fell back to seasonal "
            "naive with drift)"
        )
    if report.get("errors"):
        lines.append(f"First {len(report['errors'])} wrong outputs (input -> output | reference):")
        lines += [
            f"  {e['source']} -> {e['prediction']} | {' / '.join(e['references'])}"
            for e in report["errors"]
        ]
    return "\n".join(lines)
