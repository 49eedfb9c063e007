"""Training curves and attention heatmaps written to image files.

Figures are drawn with Matplotlib's object API on its Agg canvas, so no display
is needed and the global pyplot backend is left alone.

Example:

>>> from seq2seq.plotting import plot_history
>>> plot_history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]}, "history.png")  # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from seq2seq.atomic import atomic_path

VALIDATION_PREFIX = "val_"
VISIBLE_SPACE = "\u2423"


def _label(token: Any) -> str:
    # A space token would leave an empty tick label.
    text = str(token)
    return VISIBLE_SPACE if text.isspace() else text


def _save(figure: Figure, path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:  # a crash never leaves half a picture
        figure.savefig(temporary, dpi=100, bbox_inches="tight")
    return path


def plot_history(history: Mapping[str, Sequence[float]] | Any, path: str | os.PathLike) -> Path:
    """Plots the loss and each metric per epoch, train and validation on one panel.

    Args:
        history: A dict such as Keras' `History.history`, mapping a name to
            one value per epoch, where `val_<name>` holds the validation
            values of `<name>`; a `History` object is accepted too.
        path: The image file to write (its suffix picks the format, e.g. `.png`).

    Returns:
        The path written.

    Example:

    >>> from seq2seq.plotting import plot_history
    >>> history = {"loss": [1.0, 0.6], "val_loss": [1.1, 0.8], "accuracy": [0.2, 0.5]}
    >>> plot_history(history, "runs/history.png")  # doctest: +SKIP
    """
    history = getattr(history, "history", history)
    if not isinstance(history, Mapping) or not history:
        raise ValueError(
            "Invalid value for argument `history`. Expected a non-empty dict of metric name "
            f"to per-epoch values. Received: history={history!r}"
        )
    names = []
    for key in history:
        name = key[len(VALIDATION_PREFIX) :] if key.startswith(VALIDATION_PREFIX) else key
        if name not in names:
            names.append(name)
    if "loss" in names:
        names.insert(0, names.pop(names.index("loss")))
    columns = min(len(names), 3)
    rows = math.ceil(len(names) / columns)
    figure = Figure(figsize=(4.5 * columns, 3.2 * rows))
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for axis, name in zip(axes, names, strict=False):
        for key, label, style in (
            (name, "train", "-"),
            (VALIDATION_PREFIX + name, "validation", "--"),
        ):
            if key in history:
                values = np.asarray(history[key], dtype=float).ravel()
                axis.plot(np.arange(1, len(values) + 1), values, style, marker=".", label=label)
        axis.set_title(name)
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
        axis.legend()
    for axis in axes[len(names) :]:
        axis.set_visible(False)
    figure.tight_layout()
    return _save(figure, path)


def plot_attention(
    weights: Any,
    source_tokens: Sequence[str] | Sequence[Sequence[str]],
    target_tokens: Sequence[str] | Sequence[Sequence[str]],
    path: str | os.PathLike,
) -> Path:
    """Draws attention weights as heatmaps labelled with the tokens.

    Weights larger than the token lists (padded batches) are cropped to
    `(len(target_tokens), len(source_tokens))`.

    Args:
        weights: An array of shape `(out_len, in_len)`, where row `i` is the
            attention of output step `i` over the inputs, or a list of them.
        source_tokens: The input tokens (x axis), or one list per example.
        target_tokens: The output tokens (y axis), or one list per example.
        path: The image file to write.

    Returns:
        The path written.

    Example:

    >>> import numpy as np
    >>> from seq2seq.plotting import plot_attention
    >>> plot_attention(np.eye(3), list("abc"), list("cba"), "attention.png")  # doctest: +SKIP
    """
    if isinstance(weights, (list, tuple)) and weights and np.ndim(weights[0]) == 2:
        several = True
    else:
        several = np.ndim(weights) == 3
    matrices = [np.asarray(w, dtype=float) for w in (weights if several else [weights])]
    sources = list(source_tokens) if several else [list(source_tokens)]
    targets = list(target_tokens) if several else [list(target_tokens)]
    if not matrices or len(sources) != len(matrices) or len(targets) != len(matrices):
        raise ValueError(
            "Invalid value for arguments `weights`, `source_tokens` and `target_tokens`. "
            "Expected one token list of each kind per weight matrix. "
            f"Received: {len(matrices)} matrices, {len(sources)} source and "
            f"{len(targets)} target token lists"
        )
    for index, (matrix, source, target) in enumerate(zip(matrices, sources, targets, strict=True)):
        if matrix.ndim != 2 or matrix.shape[0] < len(target) or matrix.shape[1] < len(source):
            raise ValueError(
                "Invalid value for argument `weights`. Expected a matrix of shape at least "
                f"(len(target_tokens), len(source_tokens)) = ({len(target)}, {len(source)}). "
                f"Received: weights[{index}] with shape {matrix.shape}"
            )
    columns = min(len(matrices), 2)
    rows = math.ceil(len(matrices) / columns)
    width = max(max(len(s) for s in sources) * 0.35, 3.0) + 1.5
    height = max(max(len(t) for t in targets) * 0.35, 2.5) + 1.0
    figure = Figure(figsize=(width * columns, height * rows))
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for axis, matrix, source, target in zip(axes, matrices, sources, targets, strict=False):
        shown = matrix[: len(target), : len(source)]  # (out_len, in_len)
        image = axis.imshow(
            shown, cmap="viridis", aspect="auto", vmin=0.0, vmax=max(shown.max(), 1e-9)
        )
        axis.set_xticks(np.arange(len(source)), [_label(token) for token in source], rotation=90)
        axis.set_yticks(np.arange(len(target)), [_label(token) for token in target])
        axis.set_xlabel("source")
        axis.set_ylabel("target")
        figure.colorbar(image, ax=axis, fraction=0.046, pad=0.04)
    for axis in axes[len(matrices) :]:
        axis.set_visible(False)
    figure.tight_layout()
    return _save(figure, path)
