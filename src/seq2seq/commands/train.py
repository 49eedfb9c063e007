"""`seq2seq train`: fit a model on a data file or a built-in task and write a run folder.

The run folder holds `model.keras` (vocabularies inside), `config.toml` (the
settings, reusable with `--config`), `history.csv`, `curves.png`,
`metrics.json` (test-split scores, as `seq2seq evaluate` computes them) and,
for attention models, `attention.png`.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

from seq2seq.commands import inference
from seq2seq.commands.datasets import Dataset, load_dataset
from seq2seq.commands.errors import CommandError
from seq2seq.config import write_config
from seq2seq.data.vocabulary import Vocabulary
from seq2seq.models import AttentionSeq2Seq, Seq2Seq, SimpleSeq2Seq
from seq2seq.plotting import plot_history

MODEL_CLASSES = {"simple": SimpleSeq2Seq, "seq2seq": Seq2Seq, "attention": AttentionSeq2Seq}
ATTENTION_EXAMPLES = 4


def seed_everything(seed: int) -> None:
    """Seeds Python, NumPy, Keras and the backend, as `keras.utils.set_random_seed` does.

    That function imports TensorFlow whenever it is installed, which costs
    seconds and fills the terminal with TensorFlow's logs; other backends do
    not need it.
    """
    if keras.backend.backend() == "tensorflow":
        keras.utils.set_random_seed(seed)
        return
    try:
        from keras.src.backend.common import global_state
        from keras.src.random import seed_generator
        from keras.src.utils.rng_utils import GLOBAL_RANDOM_SEED
    except ImportError:  # Keras moved its internals: take the slow path.
        keras.utils.set_random_seed(seed)
        return
    global_state.set_global_attribute(GLOBAL_RANDOM_SEED, seed)
    global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)
    random.seed(seed)
    np.random.seed(seed)
    if keras.backend.backend() == "torch":
        import torch

        torch.manual_seed(seed)


def _text_arrays(dataset: Dataset) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict]:
    train = dataset.splits["train"]
    source_vocabulary = Vocabulary.build(train["sources"], level=dataset.source_level)
    target_vocabulary = Vocabulary.build(train["targets"], level=dataset.target_level)
    lengths = [len(target_vocabulary.tokenize(text)) for text in train["targets"]]
    output_length = max(lengths) + 1  # the end id
    arrays = {}
    for name in ("train", "validation"):
        part = dataset.splits[name]
        if part["sources"]:
            x = source_vocabulary.encode(part["sources"])
            y = target_vocabulary.encode(part["targets"], max_length=output_length)
            arrays[name] = (x, y)
    shapes = {
        "input_vocab_size": len(source_vocabulary),
        "output_vocab_size": len(target_vocabulary),
        "output_length": output_length,
        "source_vocabulary": source_vocabulary,
        "target_vocabulary": target_vocabulary,
    }
    return arrays, shapes


def _real_arrays(
    dataset: Dataset, relative: bool
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict]:
    arrays = {}
    for name in ("train", "validation"):
        x, y = dataset.splits[name]["x"], dataset.splits[name]["y"]
        if len(x):
            arrays[name] = inference.relative_inputs(x, y)[:2] if relative else (x, y)
    x, y = arrays["train"]
    shapes = {"input_dim": x.shape[-1], "output_dim": y.shape[-1], "output_length": y.shape[1]}
    return arrays, shapes


def build_model(settings: dict[str, Any], shapes: dict[str, Any], text: bool) -> keras.Model:
    """Creates and compiles the model that `settings` describe for data of `shapes`."""
    arguments = dict(
        hidden_dim=settings["hidden"],
        depth=settings["depth"],
        cell=settings["cell"],
        input_length=None,
        seed=settings["seed"],
        **shapes,
    )
    if text:
        arguments["embedding_dim"] = settings["embedding_dim"]
    model = MODEL_CLASSES[settings["model"]](**arguments)
    optimizer = keras.optimizers.Adam(settings["learning_rate"])
    model.compile(optimizer=optimizer, loss=None if text else "mse")
    return model


def _describe(settings: dict[str, Any], model: keras.Model, dataset: Dataset, out: Path) -> str:
    sizes = ", ".join(f"{dataset.size(name)} {name}" for name in ("train", "validation", "test"))
    return (
        f"Training {type(model).__name__} ({settings['cell']}, hidden {settings['hidden']}, "
        f"depth {settings['depth']}, {model.count_params():,} parameters) on "
        f"{dataset.description} ({sizes}) for up to {settings['epochs']} epochs -> {out}"
    )


def train(settings: dict[str, Any]) -> int:
    """Runs `seq2seq train` with resolved settings (see `seq2seq.config.SETTINGS`).

    Returns:
        The exit status, 0.
    """
    started = time.perf_counter()
    dataset = load_dataset(
        data=settings["data"],
        task=settings["task"],
        level=settings["level"],
        skip_header=settings["skip_header"],
        max_examples=settings["max_examples"],
        seed=settings["seed"],
        validation_split=settings["validation_split"],
        test_split=settings["test_split"],
    )
    if dataset.size("validation") == 0:
        raise CommandError(
            "--validation-split: early stopping needs a validation split; expected a value > 0"
        )
    out = Path(settings["out"] or Path("runs") / dataset.name)
    text = dataset.kind == "text"
    if text and settings["relative"]:
        raise CommandError(
            "--relative applies to real-valued data (an .npz or a real task), not to text"
        )
    relative = settings["relative"] and not text
    arrays, shapes = _text_arrays(dataset) if text else _real_arrays(dataset, relative)
    data_seconds = time.perf_counter() - started
    seed_everything(settings["seed"])
    model = build_model(settings, shapes, text)
    out.mkdir(parents=True, exist_ok=True)
    print(_describe(settings, model, dataset, out), flush=True)

    callbacks = [
        keras.callbacks.EarlyStopping(
            monitor="val_loss",
            patience=settings["patience"],
            restore_best_weights=True,
            verbose=1,
        ),
        keras.callbacks.CSVLogger(str(out / "history.csv")),
    ]
    fit_started = time.perf_counter()
    history = model.fit(
        *arrays["train"],
        validation_data=arrays["validation"],
        epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        callbacks=callbacks,
        verbose=1 if sys.stdout.isatty() else 2,
    )
    fit_seconds = time.perf_counter() - fit_started

    model.save(out / "model.keras")
    write_config(settings, out / "config.toml")
    written = ["model.keras", "config.toml", "history.csv"]
    plot_history(history.history, out / "curves.png")
    written.append("curves.png")

    split = "test" if dataset.size("test") else "validation"
    report = inference.score_split(model, dataset, split, relative=relative)
    report["model"] = str(out / "model.keras")
    report["epochs"] = len(history.history["loss"])
    report["data_seconds"] = round(data_seconds, 1)
    report["fit_seconds"] = round(fit_seconds, 1)
    (out / "metrics.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    written.append("metrics.json")

    (out / "attention.png").unlink(missing_ok=True)  # from an earlier run in this folder
    if text and isinstance(model, AttentionSeq2Seq):
        sources = dataset.splits["validation"]["sources"][:ATTENTION_EXAMPLES]
        predictions, attention = inference.predict_texts(model, sources, return_attention=True)
        inference.plot_alignments(model, sources, predictions, attention, out / "attention.png")
        written.append("attention.png")

    print(
        f"Read and encoded the data in {data_seconds:.1f} s, "
        f"trained for {report['epochs']} epochs in {fit_seconds:.0f} s"
    )
    print(inference.format_report(report))
    print(f"Wrote {', '.join(written)} to {out}")
    return 0
