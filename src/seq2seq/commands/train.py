"""`seq2seq train`: fit a model on a data file or a built-in task and write a run folder.

The run folder holds `config.toml` (the settings, written first, reusable with
`--config` and read by `--resume`), `checkpoints/` (the last few, see
`seq2seq.training`), `history.csv` (rewritten after each epoch), and once
training ends `model.keras` (vocabularies inside), `curves.png`, for attention
models `attention.png`, and `metrics.json` (test-split scores, as `seq2seq
evaluate` computes them; written last, it marks the run as finished). Every
file is written atomically.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import shlex
import signal
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import keras
import numpy as np

from seq2seq import hardware
from seq2seq.atomic import atomic_path, write_text
from seq2seq.commands import inference
from seq2seq.commands.datasets import Dataset, load_dataset, should_stream
from seq2seq.commands.errors import CommandError, TrainingDiverged, TrainingInterrupted
from seq2seq.config import write_config
from seq2seq.data.vocabularies import build_vocabulary, streamed_vocabularies
from seq2seq.losses import TokenCrossEntropy
from seq2seq.models import MODEL_CLASSES, AttentionSeq2Seq
from seq2seq.plotting import plot_history
from seq2seq.training import distribution
from seq2seq.training.checkpoint import Checkpoint, CheckpointError
from seq2seq.training.interrupts import InterruptWatch
from seq2seq.training.resizable_cosine_decay import ResizableCosineDecay
from seq2seq.training.run_folder import RunFolder
from seq2seq.training.step_watch import Interrupted, NonFiniteLoss
from seq2seq.training.streamed_batches import StreamedBatches
from seq2seq.training.training_run import RunSettings, TrainingRun, check_resumable

ATTENTION_EXAMPLES = 4
# Wrong test outputs listed in metrics.json, with their references.
REPORTED_ERRORS = 10


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


def _text_arrays(dataset: Dataset, settings: dict[str, Any]) -> tuple[dict[str, Any], dict]:
    """Vocabularies and encoded splits; a streamed file's training split is a `StreamedBatches`."""
    vocab_size, seed = settings["vocab_size"], settings["seed"]
    train = dataset.splits["train"]
    if dataset.stream is not None:
        levels = (dataset.source_level, dataset.target_level)
        source_vocabulary, target_vocabulary, output_length = streamed_vocabularies(
            dataset.stream, levels, vocab_size, seed
        )
    else:
        source_vocabulary = build_vocabulary(
            train["sources"], dataset.source_level, vocab_size, seed
        )
        target_vocabulary = build_vocabulary(
            train["targets"], dataset.target_level, vocab_size, seed
        )
        lengths = [len(target_vocabulary.tokenize(text)) for text in train["targets"]]
        output_length = max(lengths) + 1  # the end id
    arrays: dict[str, Any] = {}
    for name in ("train", "validation"):
        part = dataset.splits[name]
        if part["sources"]:
            x = source_vocabulary.encode(part["sources"])
            y = target_vocabulary.encode(part["targets"], max_length=output_length)
            arrays[name] = (x, y)
    arrays["alternatives"] = _alternatives(
        dataset.splits["validation"], target_vocabulary, output_length
    )
    if dataset.stream is not None:
        arrays["train"] = StreamedBatches(
            dataset.stream.train_pairs, dataset.stream.train_size, source_vocabulary,
            target_vocabulary, output_length, settings["batch_size"], seed=(seed, 0),
            bucket=settings["bucket"],
        )  # fmt: skip
    shapes = {
        "input_vocab_size": len(source_vocabulary),
        "output_vocab_size": len(target_vocabulary),
        "output_length": output_length,
        "source_vocabulary": source_vocabulary,
        "target_vocabulary": target_vocabulary,
    }
    return arrays, shapes


def _alternatives(part: dict, vocabulary, output_length: int) -> tuple | None:
    """`(rows, targets)`: the references of a held-out split other than each example's
    target, encoded, for selection on exact match; None where there are none. A reference
    too long for the model's outputs is left out."""
    rows, texts = [], []
    for row, (target, options) in enumerate(zip(part["targets"], part["references"], strict=True)):
        for option in options:
            if option != target and len(vocabulary.tokenize(option)) < output_length:
                rows.append(row)
                texts.append(option)
    if not rows:
        return None
    return np.asarray(rows), vocabulary.encode(texts, max_length=output_length)


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


def learning_rate(settings: dict[str, Any], steps_per_epoch: int) -> float | Any:
    """The optimizer's learning rate: a number, or a schedule over the run's steps.

    `schedule = "cosine"` decays the rate to 0 along a half cosine over every
    step of the run (`epochs * steps_per_epoch`); `warmup_steps` first raise it
    linearly from 0. Both depend on the optimizer's step count only, which a
    checkpoint holds, so a resumed run continues on the same curve. The cosine is
    a `ResizableCosineDecay`: a time budget shortens it without compiling the
    training step again.
    """
    rate = settings["learning_rate"]
    warmup = settings["warmup_steps"]
    total = settings["epochs"] * steps_per_epoch
    if settings["schedule"] == "cosine":
        return ResizableCosineDecay(
            0.0 if warmup else rate,
            decay_steps=max(1, total - warmup),
            warmup_target=rate if warmup else None,
            warmup_steps=warmup,
        )
    if warmup:
        return keras.optimizers.schedules.PolynomialDecay(
            0.0, decay_steps=warmup, end_learning_rate=rate, power=1.0
        )
    return rate


def _resizable(model: keras.Model) -> ResizableCosineDecay | None:
    """The optimizer's schedule where the run's length sets it, for a time budget to resize."""
    rate = getattr(model.optimizer, "_learning_rate", None)  # where Keras keeps a schedule
    return rate if isinstance(rate, ResizableCosineDecay) else None


def model_depth(settings: dict[str, Any]) -> int | tuple[int, int]:
    """The model's `depth`: `depth`, or an `(encoder, decoder)` pair where either side is set."""
    encoder, decoder = settings.get("encoder_depth"), settings.get("decoder_depth")
    if encoder is None and decoder is None:
        return settings["depth"]
    return (encoder or settings["depth"], decoder or settings["depth"])


def build_model(
    settings: dict[str, Any], shapes: dict[str, Any], text: bool, steps_per_epoch: int = 1
) -> keras.Model:
    """Creates and compiles the model that `settings` describe for data of `shapes`."""
    arguments = dict(
        hidden_dim=settings["hidden"],
        depth=model_depth(settings),
        cell=settings["cell"],
        dropout=settings["dropout"],
        input_length=None,
        seed=settings["seed"],
        dtype=settings["precision"],
        **shapes,
    )
    if text:
        arguments["embedding_dim"] = settings["embedding_dim"]
    model = MODEL_CLASSES[settings["model"]](**arguments)
    optimizer = keras.optimizers.Adam(
        learning_rate(settings, steps_per_epoch),
        clipnorm=settings["clip_norm"] or None,
        use_ema=bool(settings["ema"]),
        ema_momentum=settings["ema"] or 0.99,
    )
    if text:
        loss = TokenCrossEntropy(label_smoothing=settings["label_smoothing"])
    elif settings["label_smoothing"]:
        raise CommandError("--label-smoothing applies to text (token) data, not to real values")
    else:
        loss = "mse"
    jit_compile = settings["jit_compile"]
    model.compile(
        optimizer=optimizer, loss=loss, jit_compile="auto" if jit_compile is None else jit_compile
    )
    return model


def _depth_text(model: keras.Model) -> str:
    if model.encoder_depth == model.decoder_depth:
        return str(model.encoder_depth)
    return f"{model.encoder_depth} (encoder), {model.decoder_depth} (decoder)"


def _describe(settings: dict[str, Any], model: keras.Model, dataset: Dataset, out: Path) -> str:
    sizes = ", ".join(f"{dataset.size(name)} {name}" for name in ("train", "validation", "test"))
    return (
        f"Training {type(model).__name__} ({settings['cell']}, hidden {settings['hidden']}, "
        f"depth {_depth_text(model)}, {model.count_params():,} parameters) on "
        f"{dataset.description} ({sizes}) for up to {settings['epochs']} epochs -> {out}"
    )


def _prepare_folder(folder: RunFolder, settings: dict[str, Any], overwrite: bool) -> None:
    if folder.path.exists() and not folder.path.is_dir():
        raise CommandError(f"--out {folder.path}: not a folder")
    if folder.holds_run() and not overwrite:
        state = "a finished run" if folder.finished() else "an unfinished run"
        raise CommandError(
            f"{folder.path} holds {state}; continue it with `seq2seq train --resume "
            f"{folder.path}`, or give --overwrite to replace it, or another --out"
        )
    try:
        folder.path.mkdir(parents=True, exist_ok=True)
        if overwrite:
            folder.clear()
        write_config(settings, folder.config)
    except OSError as error:
        raise CommandError(
            f"--out {folder.path}: cannot write the run folder ({error.strerror or error})"
        ) from None


@contextlib.contextmanager
def _writing(path: Path, folder: RunFolder):
    """Reports a failed write of a run file on one line (the file is written atomically)."""
    try:
        yield
    except OSError as error:
        raise CommandError(
            f"{path}: cannot write ({error.strerror or error}); the earlier file, if any, is "
            f"kept; free space and finish the run with: {_resume_command(folder)}"
        ) from None


def _resume_command(folder: RunFolder) -> str:
    return f"seq2seq train --resume {shlex.quote(str(folder.path))}"


def _fit(run: TrainingRun, arrays, checkpoint: Checkpoint | None) -> dict[str, list[float]]:
    folder = run.folder
    try:
        return run.fit(
            arrays["train"],
            arrays["validation"],
            resume_from=checkpoint,
            alternatives=arrays.get("alternatives"),
        )
    except NonFiniteLoss as error:
        last = run.last_checkpoint
        kept = (
            f"the last good checkpoint (epoch {last.epoch + 1}, step {last.position}) is in "
            f"{folder.checkpoints}"
            if last is not None
            else "no checkpoint was written before it"
        )
        raise TrainingDiverged(f"{error}; training stopped, {kept}") from None
    except Interrupted as stop:
        name = signal.Signals(stop.signal).name
        raise TrainingInterrupted(
            f"interrupted by {name} at epoch {stop.epoch + 1}, step {stop.position}; "
            f"checkpoint saved; resume with: {_resume_command(folder)}",
            run.watch.exit_status,
        ) from None
    except CheckpointError as error:
        raise CommandError(f"{folder.path}: cannot resume: {error}") from None
    except OSError as error:
        filename = error.filename or folder.checkpoints
        raise CommandError(
            f"{filename}: cannot write a checkpoint ({error.strerror or error}); the earlier "
            f"checkpoints are kept; free space and resume with: {_resume_command(folder)}"
        ) from None


def _distribute(settings: dict[str, Any], resume: bool) -> distribution.Processes:
    """Starts `--distribute` (see `seq2seq.training.distribution`) or says why it cannot."""
    try:
        processes = distribution.start(settings["batch_size"])
    except distribution.DistributionError as error:
        raise CommandError(str(error)) from None
    if settings["bucket"]:
        raise CommandError("--bucket: not supported with --distribute; give --no-bucket")
    several = processes.num_processes > 1
    for flag, given, remedy in (
        ("--select-on exact_match", settings["select_on"] == "exact_match", ""),
        ("--resume", resume, ""),
        # Each process would plan on its own clock and stop at another epoch.
        ("--time-budget", settings["time_budget"] > 0, "; give --time-budget 0"),
    ):
        if several and given:
            raise CommandError(
                f"{flag}: not supported with --distribute on several processes{remedy}"
            )
    return processes


def _divisible(processes: distribution.Processes, arrays, batch_size: int):
    try:
        return processes.divisible(arrays, batch_size)
    except distribution.DistributionError as error:
        raise CommandError(str(error)) from None


def train(settings: dict[str, Any], resume: bool = False, overwrite: bool = False) -> int:
    """Runs `seq2seq train` with resolved settings (see `seq2seq.config.SETTINGS`).

    Args:
        settings: Every setting, resolved.
        resume: Continue the run in `settings["out"]` from its last checkpoint.
        overwrite: Replace an earlier run in the run folder.

    Returns:
        The exit status, 0.

    Raises:
        CommandError: A bad input (exit 2), a diverged loss (`TrainingDiverged`,
            exit 3) or an interrupt (`TrainingInterrupted`, exit 130/143).
    """
    processes = _distribute(settings, resume) if settings["distribute"] else None
    if settings["precision"] == "auto":  # recorded resolved: a resumed run keeps it
        settings = {**settings, "precision": hardware.fast_precision()}
    started = time.perf_counter()
    if resume and RunFolder(settings["out"]).finished():
        print(f"{settings['out']}: the run has finished already (metrics.json); nothing to resume")
        return 0
    dataset = load_dataset(
        data=settings["data"],
        task=settings["task"],
        level=settings["level"],
        source_level=settings.get("source_level"),
        target_level=settings.get("target_level"),
        skip_header=settings["skip_header"],
        max_examples=settings["max_examples"],
        seed=settings["seed"],
        validation_split=settings["validation_split"],
        test_split=settings["test_split"],
        stream=should_stream(settings["data"], settings["stream"]),
    )
    if dataset.size("validation") == 0:
        raise CommandError(
            "--validation-split: early stopping needs a validation split; expected a value > 0"
        )
    folder = RunFolder(settings["out"] or Path("runs") / dataset.name)
    out = folder.path
    text = dataset.kind == "text"
    if text and settings["relative"]:
        raise CommandError(
            "--relative applies to real-valued data (an .npz or a real task), not to text"
        )
    relative = settings["relative"] and not text
    if text:
        arrays, shapes = _text_arrays(dataset, settings)
    else:
        arrays, shapes = _real_arrays(dataset, relative)
    if processes is not None and dataset.stream is not None:
        raise CommandError("--stream: not supported with --distribute; give --no-stream")
    if processes is not None:
        arrays, note = _divisible(processes, arrays, settings["batch_size"])
        print(note, flush=True)
    train = arrays["train"]
    train_size = train.size if isinstance(train, StreamedBatches) else len(train[0])
    if settings["batch_size"] > train_size:
        warnings.warn(
            f"--batch-size {settings['batch_size']} is larger than the {train_size} training "
            f"examples; each step uses all {train_size}",
            stacklevel=2,
        )
    data_seconds = time.perf_counter() - started
    run_settings = RunSettings(
        epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        seed=settings["seed"],
        patience=settings["patience"],
        checkpoint_every=settings["checkpoint_every"],
        keep_checkpoints=settings["keep_checkpoints"],
        verbose=1 if sys.stdout.isatty() else 2,
        bucket=settings["bucket"] and text,
        select_on=settings["select_on"],
        time_budget=60.0 * settings["time_budget"],
    )
    if settings["select_on"] != "loss" and not text:
        raise CommandError(
            f"--select-on {settings['select_on']}: applies to text (token) data; "
            "real-valued runs select on the validation loss"
        )
    checkpoint = None
    if resume:
        checkpoint = folder.latest_checkpoint()
        if checkpoint is None:
            print(f"{out}: no checkpoint yet; starting the run again from its config.toml")
        else:
            try:
                check_resumable(checkpoint, train_size, run_settings)
            except CheckpointError as error:
                raise CommandError(f"{out}: cannot resume: {error}") from None
    elif processes is not None and not processes.writes:
        folder = distribution.Bystander(out)
    else:
        _prepare_folder(folder, {**settings, "out": str(out)}, overwrite)
    seed_everything(settings["seed"])
    steps_per_epoch = math.ceil(train_size / settings["batch_size"])
    model = build_model(settings, shapes, text, steps_per_epoch)
    if checkpoint is not None:
        print(
            f"Resuming {out} at epoch {checkpoint.epoch + 1}, step {checkpoint.position} "
            f"(checkpoint {folder.checkpoint_path(checkpoint.global_step).name})",
            flush=True,
        )
    print(_describe(settings, model, dataset, out), flush=True)

    fit_started = time.perf_counter()
    with InterruptWatch() as watch:
        if processes is None:
            run = TrainingRun(model, folder, run_settings, watch, _resizable(model))
        else:
            run = distribution.ShardedRun(processes, model, folder, run_settings, watch)
        history = _fit(run, arrays, checkpoint)
    fit_seconds = time.perf_counter() - fit_started
    if processes is not None:
        # Decoding and scoring run on process 0's device alone; the others are done.
        model = processes.local_model(
            model, lambda: build_model(settings, shapes, text, steps_per_epoch)
        )
        if model is None:
            print(
                f"Process {processes.process_id} of {processes.num_processes}: trained for "
                f"{len(history['loss'])} epochs; process 0 writes {out}"
            )
            return 0

    with _writing(out / "model.keras", folder), atomic_path(out / "model.keras") as temporary:
        model.save(temporary)
    written = ["model.keras", "config.toml", "history.csv"]
    with _writing(out / "curves.png", folder):
        plot_history(history, out / "curves.png")
    written.append("curves.png")

    (out / "attention.png").unlink(missing_ok=True)  # from an earlier run in this folder
    if text and isinstance(model, AttentionSeq2Seq):
        sources = dataset.splits["validation"]["sources"][:ATTENTION_EXAMPLES]
        predictions, attention = inference.predict_texts(model, sources, return_attention=True)
        with _writing(out / "attention.png", folder):
            inference.plot_alignments(model, sources, predictions, attention, out / "attention.png")
        written.append("attention.png")

    split = "test" if dataset.size("test") else "validation"
    report = inference.score_split(
        model,
        dataset,
        split,
        beam=settings["beam"] if text else 1,
        length_penalty=settings["length_penalty"],
        relative=relative,
        errors=REPORTED_ERRORS if text else 0,
    )
    report["model"] = str(out / "model.keras")
    report["epochs"] = len(history["loss"])
    report["data_seconds"] = round(data_seconds, 1)
    report["fit_seconds"] = round(fit_seconds, 1)
    # Written last: its presence marks the run as finished (see `--resume`).
    with _writing(out / "metrics.json", folder):
        write_text(out / "metrics.json", json.dumps(report, indent=2) + "\n")
    written.append("metrics.json")

    print(
        f"Read and encoded the data in {data_seconds:.1f} s, "
        f"trained for {report['epochs']} epochs in {fit_seconds:.0f} s"
    )
    print(inference.format_report(report))
    print(f"Wrote {', '.join(written)} to {out}")
    return 0
