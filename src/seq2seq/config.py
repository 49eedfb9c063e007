"""Settings of `seq2seq train`: their types, defaults, per-task defaults and TOML files.

A setting comes, in order of precedence, from a command-line flag, a TOML config
file (`--config`), the task's defaults (`TASK_DEFAULTS`, with `--task`) and
the built-in default (`SETTINGS`). A config file is a flat TOML table whose keys
are the setting names (`batch_size` or `batch-size`):

```toml
task = "dates"
hidden = 64
epochs = 4
learning_rate = 0.005
```

Example:

>>> from seq2seq.config import resolve_settings
>>> settings = resolve_settings({"epochs": 2}, {"epochs": 9, "hidden": 32}, task="dates")
>>> settings["epochs"], settings["hidden"], settings["model"]
(2, 32, 'attention')
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from seq2seq import __version__
from seq2seq.atomic import write_text
from seq2seq.conventions import CELL_NAMES, LEVELS, MODEL_NAMES
from seq2seq.data.tasks import TASKS

# Each side's level defaults to the task's own (a text task) or to `level`, the shorthand.
SIDE_LEVELS = ("source_level", "target_level")
# Each side's depth overrides `depth` where set.
SIDE_DEPTHS = ("encoder_depth", "decoder_depth")
# Inputs decoded together by `evaluate`, `predict` and the test scores of `train`.
PREDICT_BATCH_SIZE = 256
SCHEDULES = ("constant", "cosine")
# Keras dtype policies a model can train under, or "auto" (`seq2seq.hardware.fast_precision`).
PRECISIONS = ("auto", "float32", "mixed_bfloat16")
SELECTION = ("loss", "exact_match")


class Setting(NamedTuple):
    """One setting: its Python type, default, help text and allowed values."""

    type: type
    default: Any
    help: str
    choices: tuple | None = None
    minimum: float | None = None
    below: float | None = None


SETTINGS: dict[str, Setting] = {
    "data": Setting(str, None, "a .tsv/.csv of source/target pairs or an .npz with arrays x and y"),
    "task": Setting(
        str, None, "a built-in task instead of a data file (see `seq2seq tasks`)", tuple(TASKS)
    ),
    "level": Setting(str, "char", "how a data file's texts split into symbols", LEVELS),
    "source_level": Setting(
        str, None, "how a data file's sources split into symbols (default: --level)", LEVELS
    ),
    "target_level": Setting(
        str, None, "how a data file's targets split into symbols (default: --level)", LEVELS
    ),
    "vocab_size": Setting(
        int,
        8000,
        "ids of a subword vocabulary (--level subword), 4 reserved ones included",
        minimum=5,
    ),
    "stream": Setting(
        bool,
        None,
        "read a text data file from disk batch by batch instead of into memory "
        "(default: only for files over 256 MiB)",
    ),
    "skip_header": Setting(bool, False, "skip the first line of the data file"),
    "relative": Setting(
        bool,
        False,
        "real values: learn the change from each input's last step (x and y minus x[:, -1]); "
        "predictions add it back",
    ),
    "model": Setting(str, "attention", "the model class", MODEL_NAMES),
    "cell": Setting(str, "lstm", "the recurrent cell", CELL_NAMES),
    "hidden": Setting(int, 64, "hidden size of the recurrent layers", minimum=1),
    "depth": Setting(
        int,
        1,
        "stacked recurrent layers in encoder and decoder (given, over a task's per-side depths)",
        minimum=1,
    ),
    "encoder_depth": Setting(
        int, None, "stacked recurrent layers in the encoder (default: --depth)", minimum=1
    ),
    "decoder_depth": Setting(
        int, None, "stacked recurrent layers in the decoder (default: --depth)", minimum=1
    ),
    "embedding_dim": Setting(int, 32, "size of the token embeddings", minimum=1),
    "epochs": Setting(int, 20, "the most epochs to train", minimum=1),
    "time_budget": Setting(
        float,
        0.0,
        "minutes the epochs may take (validation included, the test scores after them not): "
        "after each epoch the run trains only the epochs that still fit at the pace measured "
        "and a cosine schedule ends with the last of them; 0 for no limit",
        minimum=0.0,
    ),
    "batch_size": Setting(int, 64, "examples per training step", minimum=1),
    "learning_rate": Setting(float, 0.003, "Adam's learning rate", minimum=0.0),
    "validation_split": Setting(
        float, 0.1, "fraction of a data file held out for validation", minimum=0.0, below=1.0
    ),
    "test_split": Setting(
        float, 0.1, "fraction of a data file held out for the test metrics", minimum=0.0, below=1.0
    ),
    "seed": Setting(int, 0, "random seed for the split, the weights and the batches", minimum=0),
    "patience": Setting(
        int, 3, "epochs without a lower validation loss before stopping", minimum=0
    ),
    "max_examples": Setting(
        int, None, "examples to use: at most this many of a file, in all for a task", minimum=3
    ),
    "out": Setting(str, None, "the run folder (default runs/<task or data file name>)"),
    "checkpoint_every": Setting(
        int,
        500,
        "steps between checkpoints inside an epoch, 0 for none (one is written after every epoch)",
        minimum=0,
    ),
    "keep_checkpoints": Setting(int, 3, "how many of the newest checkpoints to keep", minimum=1),
    "dropout": Setting(
        float,
        0.0,
        "dropout rate on the encoder's layer inputs (embeddings included) and the decoder's "
        "readout and between its layers",
        minimum=0.0,
        below=1.0,
    ),
    "label_smoothing": Setting(
        float,
        0.0,
        "token mode: mass spread over the other tokens in the loss",
        minimum=0.0,
        below=1.0,
    ),
    "clip_norm": Setting(
        float, None, "clip each step's gradient to this global norm (none when unset)", minimum=0.0
    ),
    "ema": Setting(
        float,
        0.0,
        "keep a moving average of the weights, this much of it kept each step (for example "
        "0.999), and validate, select and keep the average; 0 for none",
        minimum=0.0,
        below=1.0,
    ),
    "schedule": Setting(
        str,
        "constant",
        "learning rate over the run: constant, or cosine decay to 0 over all epochs",
        SCHEDULES,
    ),
    "warmup_steps": Setting(
        int, 0, "steps of linear warm-up from 0 to the learning rate", minimum=0
    ),
    "precision": Setting(
        str,
        "float32",
        "float32, or mixed_bfloat16: matrix multiplies in bfloat16, states, attention "
        "weights, the loss and the weights in float32 (stored with the model); auto: "
        "mixed_bfloat16 where bfloat16 products are faster (a GPU, or a CPU with AVX-512 "
        "bf16 or AMX), else float32",
        PRECISIONS,
    ),
    "jit_compile": Setting(
        bool,
        None,
        "compile the training step whole: XLA on TensorFlow, torch.compile on PyTorch "
        "(faster on most models after a first step of minutes, docs/benchmarks.md); "
        "JAX always compiles with XLA, and --no-jit-compile runs it op by op "
        "(default: the backend's choice, Keras' jit_compile='auto': XLA on JAX, eager "
        "on TensorFlow and PyTorch)",
    ),
    "bucket": Setting(
        bool,
        False,
        "token data: batch sequences of similar length, each batch padded to its own longest",
    ),
    "select_on": Setting(
        str,
        "loss",
        "early stopping and the kept epoch: validation loss, or token data's greedy "
        "exact match on the validation split",
        SELECTION,
    ),
    "beam": Setting(int, 1, "beam width of the test scores written to metrics.json", minimum=1),
    "length_penalty": Setting(
        float, 0.0, "beam search's length penalty exponent for the test scores", minimum=0.0
    ),
    "distribute": Setting(
        bool,
        False,
        "JAX: train data-parallel over all devices, across hosts when the "
        "KERAS_DISTRIBUTION_* variables are set (docs/distribution.md)",
    ),
}
# The version of seq2seq that wrote a config file: its first key, not a setting.
VERSION_KEY = "seq2seq_version"

# Tuned on 2 CPU cores so that each task trains in minutes (see docs/tasks.md).
TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    "reverse": {"epochs": 6, "learning_rate": 0.005},
    "sort": {"epochs": 15, "learning_rate": 0.003, "patience": 5},
    "addition": {
        "epochs": 30,
        "learning_rate": 0.003,
        "schedule": "cosine",
        "select_on": "exact_match",
        "patience": 8,
    },
    "dates": {"epochs": 4, "learning_rate": 0.005},
    "g2p": {
        "hidden": 256,
        # Three bidirectional encoder layers on one decoder layer: 24.61 % test WER on a
        # file draw of the dictionary against 24.96 % for two and two (two against one
        # each had given 25.19 % against 25.79 %), in 53 minutes (docs/results.md).
        "encoder_depth": 3,
        "decoder_depth": 1,
        "embedding_dim": 64,
        # bfloat16 products (float32 states, softmax, loss and weights): epochs about
        # 20 % shorter, spent on 18 epochs instead of 15; 24.56 % test WER against 24.94 %
        # in float32, in 53 minutes (docs/results.md). On a CPU without bfloat16
        # instructions they are 1.8x slower than float32: "auto" takes float32 there.
        "epochs": 18,
        # Fewer epochs on a slower CPU, the whole command within the hour: on the AVX-512
        # machine 17 of the 18 fit, 3,095 s of training, 52 min 8 s in all (docs/results.md).
        "time_budget": 57,
        "patience": 18,
        "precision": "auto",
        "learning_rate": 0.002,
        "schedule": "cosine",
        "warmup_steps": 1000,
        "dropout": 0.2,
        "label_smoothing": 0.1,
        "clip_norm": 1.0,
        "bucket": True,
        "select_on": "exact_match",
        "beam": 5,
    },
    "co2": {
        "relative": True,
        "hidden": 64,
        "epochs": 30,
        "batch_size": 32,
        "learning_rate": 0.005,
        "schedule": "cosine",
        # The cosine decay's last epochs, at small rates, are the best ones.
        "patience": 30,
    },
}


class ConfigError(ValueError):
    """A config file or setting that cannot be used, reported on one line.

    Args:
        message: What is wrong, naming the file and the key.

    Example:

    >>> from seq2seq.config import ConfigError
    >>> str(ConfigError("run.toml: unknown key 'hiden'"))
    "run.toml: unknown key 'hiden'"
    """


def _type_name(kind: type) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}[kind]


def check_setting(name: str, value: Any, where: str = "") -> Any:
    """Checks one setting's type, choices and range; returns the value (ints become floats where needed).

    Args:
        name: A key of `SETTINGS`.
        value: The value to check.
        where: A prefix for the error message, such as `"run.toml: "`.

    Returns:
        The value, with an int given for a float setting converted.

    Raises:
        ConfigError: The value has the wrong type or is out of range.
    """
    setting = SETTINGS[name]
    if value is None:
        return None
    if setting.type is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if (setting.type is int and isinstance(value, bool)) or not isinstance(value, setting.type):
        raise ConfigError(
            f"{where}invalid value for `{name}`: expected {_type_name(setting.type)}, "
            f"received {value!r}"
        )
    if setting.choices and value not in setting.choices:
        raise ConfigError(
            f"{where}invalid value for `{name}`: expected one of {', '.join(setting.choices)}; "
            f"received {value!r}"
        )
    too_low = setting.minimum is not None and value < setting.minimum
    too_high = setting.below is not None and value >= setting.below
    if too_low or too_high or (setting.type is float and not math.isfinite(value)):
        bounds = f">= {setting.minimum:g}" if setting.minimum is not None else "a number"
        if setting.below is not None:
            bounds += f" and < {setting.below:g}"
        raise ConfigError(
            f"{where}invalid value for `{name}`: expected {bounds}, received {value!r}"
        )
    return value


def load_config(path: str | os.PathLike) -> dict[str, Any]:
    """Reads train settings from a flat TOML file.

    Args:
        path: The `.toml` file.

    Returns:
        A dict of setting name (with underscores) to checked value.

    Raises:
        ConfigError: The file is missing or not valid TOML, or holds an unknown
            key (the message lists the valid ones) or a bad value.
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read ({error.strerror or error})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: invalid TOML ({error})") from None
    settings = {}
    written_by = raw.pop(VERSION_KEY, None)
    for key, value in raw.items():
        name = key.replace("-", "_")
        if name not in SETTINGS:
            if _is_newer(written_by):
                raise ConfigError(
                    f"{path}: unknown key {key!r}: the file was written by seq2seq {written_by}, "
                    f"newer than this {__version__}; upgrade seq2seq or remove the key"
                )
            raise ConfigError(f"{path}: unknown key {key!r}; valid keys: {', '.join(SETTINGS)}")
        settings[name] = check_setting(name, value, where=f"{path}: ")
    return settings


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for part in text.split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def _is_newer(version: Any) -> bool:
    return isinstance(version, str) and _version_tuple(version) > _version_tuple(__version__)


def resolve_settings(
    flags: Mapping[str, Any],
    config: Mapping[str, Any] | None = None,
    task: str | None = None,
) -> dict[str, Any]:
    """Merges the sources of the settings: flags, then config, then task defaults, then defaults.

    Args:
        flags: Values given on the command line; `None` means "not given".
        config: Values from a config file.
        task: The task whose `TASK_DEFAULTS` apply, if any.

    Returns:
        A value for every key of `SETTINGS`. `source_level` and `target_level`
        not given fall back to the task's own levels (a text task), else to `level`.
    """
    config = config or {}
    task_defaults = TASK_DEFAULTS.get(task or "", {})
    settings = {}
    for name, setting in SETTINGS.items():
        for source in (flags, config, task_defaults):
            if source.get(name) is not None:
                settings[name] = source[name]
                break
        else:
            settings[name] = setting.default
    for name in SIDE_LEVELS:
        if settings[name] is None:
            own = getattr(TASKS[task], name) if task in TASKS else None
            settings[name] = own or settings["level"]
    # A depth given (flag or config) is both sides' over a task's per-side defaults.
    if any(source.get("depth") is not None for source in (flags, config)):
        for name in SIDE_DEPTHS:
            if all(source.get(name) is None for source in (flags, config)):
                settings[name] = None
    return settings


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    return repr(value)


def config_text(settings: Mapping[str, Any], comment: str = "") -> str:
    """Settings as the text of a flat TOML file that `load_config` reads back.

    The first key records the version of seq2seq that wrote it; `None` values
    are left out.

    Args:
        settings: Setting name to value.
        comment: Lines put first, each as a TOML comment (`# ...`).

    Returns:
        The file's text, ending with a newline.
    """
    lines = [f"# {line}" if line else "#" for line in comment.splitlines()]
    lines += [f"{VERSION_KEY} = {_toml_value(__version__)}"]
    lines += [
        f"{name} = {_toml_value(value)}" for name, value in settings.items() if value is not None
    ]
    return "\n".join(lines) + "\n"


def write_config(settings: Mapping[str, Any], path: str | os.PathLike) -> Path:
    """Writes settings as a flat TOML file that `load_config` reads back (`None` values left out).

    The file is written atomically (a temporary file, then a rename), and its
    first key records the version of seq2seq that wrote it.

    Args:
        settings: Setting name to value.
        path: The file to write.

    Returns:
        The path written.
    """
    return write_text(Path(path), config_text(settings))
