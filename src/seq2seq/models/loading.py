"""Loading a saved seq2seq model without running code carried by the file.

A `.keras` file is a zip archive whose `config.json` names the classes and
functions to rebuild. Keras' safe mode refuses Python lambdas, but a file can
still name a `Lambda` layer or a class from any importable module. `load_model`
reads `config.json` itself first and refuses any file that carries code before
Keras deserialises anything, then loads with `safe_mode=True` and checks that
the result is one of the three seq2seq models.

Every message is one line that starts with the file's path, so the command
line prints it as it is.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import zipfile
from pathlib import Path

import keras

from seq2seq.conventions import MODEL_CLASS_NAMES
from seq2seq.models.base import Seq2SeqModel

CONFIG_NAME = "config.json"
MODEL_CLASSES = tuple(MODEL_CLASS_NAMES.values())
# The packages whose classes and functions a config may name; Keras also writes
# `builtins` for a few plain functions and NumPy for dtypes.
ALLOWED_PACKAGES = ("keras", "seq2seq")
ALLOWED_MODULES = ("builtins", "numpy")
# The special entries Keras writes for plain values; `__lambda__` (bytecode) is not one.
VALUE_ENTRIES = (
    "__numpy__", "__tensor__", "__bytes__", "__slice__", "__ellipsis__", "__keras_tensor__"
)  # fmt: skip
CODE_CLASSES = ("Lambda",)
# Base64 text long enough to hold a marshalled code object (Keras' `func_dump`).
BASE64_TEXT = re.compile(r"^[A-Za-z0-9+/=\s]{24,}$")
MARSHAL_CODE = (0x63, 0xE3)  # marshal's TYPE_CODE, without and with FLAG_REF


def load_model(path: str | os.PathLike, compile: bool = False) -> Seq2SeqModel:
    """Loads a `.keras` file of a seq2seq model, refusing files that carry code.

    Before Keras reads the file, its `config.json` is checked: a `Lambda`
    layer, a Python lambda or other bytecode, an unknown `__special__` entry,
    or a class or function from a module other than `keras...` and
    `seq2seq...` (plus `builtins` and `numpy`, which Keras writes for plain
    functions and dtypes) make the file refused. The model is then loaded with
    `keras.saving.load_model(path, compile=compile, safe_mode=True)`.

    Args:
        path: The `.keras` file (written by `model.save` or `seq2seq train`).
        compile: Also restore the optimizer and loss, to train further.

    Returns:
        The `SimpleSeq2Seq`, `Seq2Seq` or `AttentionSeq2Seq` model.

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: The file is not a readable `.keras` archive (truncated,
            another format), carries code, or holds a model that is not a
            seq2seq model. The message is one line starting with the path.

    Example:

    >>> from seq2seq.models import load_model
    >>> model = load_model("runs/dates/model.keras")  # doctest: +SKIP
    >>> model.generate(x)["ids"]  # doctest: +SKIP
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: file not found")
    config = read_config(path)
    found = find_code(config)
    if found:
        raise ValueError(
            f"{path}: refused to load: the file carries code ({found}); "
            "loading it could run that code"
        )
    class_name = config.get("class_name")
    if not _is_seq2seq_entry(config):
        raise ValueError(f"{path}: {_expected_model(class_name)}")
    try:
        model = keras.saving.load_model(path, compile=compile, safe_mode=True)
    except Exception as error:  # Keras raises many types for a bad archive.
        raise ValueError(f"{path}: cannot load the model ({_one_line(error)})") from error
    if not isinstance(model, Seq2SeqModel):
        raise ValueError(f"{path}: {_expected_model(type(model).__name__)}")
    return model


def read_config(path: str | os.PathLike) -> dict:
    """The parsed `config.json` of a `.keras` archive, read without Keras.

    Args:
        path: An existing file.

    Returns:
        The config as a dict.

    Raises:
        ValueError: `path` is a folder, not a `.keras` file, not a zip archive
            (garbage, truncated), or has no readable `config.json`.

    Example:

    >>> from seq2seq.models.loading import read_config
    >>> read_config("runs/dates/model.keras")["class_name"]  # doctest: +SKIP
    'AttentionSeq2Seq'
    """
    path = Path(path)
    cannot = f"{path}: cannot load the model"
    if not path.is_file():
        raise ValueError(f"{cannot} (expected a `.keras` file, received a folder)")
    if path.suffix != ".keras":
        received = f"a `{path.suffix}` file" if path.suffix else "a file without an extension"
        raise ValueError(f"{cannot} (expected a `.keras` file, received {received})")
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if CONFIG_NAME not in names:
                raise ValueError(f"{cannot} (the archive has no {CONFIG_NAME})")
            if names.count(CONFIG_NAME) > 1:
                raise ValueError(f"{cannot} (the archive has several {CONFIG_NAME} entries)")
            text = archive.read(CONFIG_NAME)
    except zipfile.BadZipFile:
        with open(path, "rb") as handle:
            zip_start = handle.read(4) == b"PK\x03\x04"
        what = "truncated or damaged zip archive" if zip_start else "not a zip archive"
        raise ValueError(f"{cannot} ({what}; expected a `.keras` file)") from None
    except (OSError, EOFError, zipfile.LargeZipFile, NotImplementedError) as error:
        raise ValueError(f"{cannot} ({_one_line(error)})") from None
    try:
        config = json.loads(text)
    except (UnicodeDecodeError, RecursionError, ValueError) as error:
        raise ValueError(
            f"{cannot} ({CONFIG_NAME} is not valid JSON: {_one_line(error)})"
        ) from None
    if not isinstance(config, dict):
        raise ValueError(f"{cannot} ({CONFIG_NAME} holds a {type(config).__name__}, not an object)")
    return config


def find_code(config: dict | list) -> str | None:
    """Describes the first entry of a model config that carries code, or None.

    Args:
        config: A parsed `config.json` (or any part of it).

    Returns:
        `None` when the config names only Keras and seq2seq objects and plain
        values; else what was found and where, e.g.
        "a `Lambda` layer at `config.layers[1]`".

    Example:

    >>> from seq2seq.models.loading import find_code
    >>> find_code({"module": "keras.layers", "class_name": "Lambda", "config": {}})
    'a `Lambda` layer at `(top)`'
    """
    stack = [(config, "")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, dict):
            found = _code_in_entry(node)
            if found:
                return f"{found} at `{where or '(top)'}`"
            children = [
                (value, f"{where}.{key}" if where else str(key)) for key, value in node.items()
            ]
        elif isinstance(node, list):
            children = [(value, f"{where}[{index}]") for index, value in enumerate(node)]
        elif isinstance(node, str) and _is_bytecode(node):
            return f"Python bytecode at `{where or '(top)'}`"
        else:
            continue
        stack.extend(reversed(children))
    return None


def _code_in_entry(entry: dict) -> str | None:
    for key in entry:
        if isinstance(key, str) and key.startswith("__"):
            return f"a `{key}` key"
    class_name = entry.get("class_name")
    registered = entry.get("registered_name")
    names = [name for name in (class_name, registered) if isinstance(name, str)]
    if any(re.split(r"[>.]", name)[-1] in CODE_CLASSES for name in names):
        return "a `Lambda` layer"
    if class_name == "__lambda__":
        return "a Python lambda (`__lambda__`)"
    if (
        isinstance(class_name, str)
        and class_name.startswith("__")
        and class_name not in VALUE_ENTRIES
    ):
        return f"a `{class_name}` entry"
    module = entry.get("module")
    if module is not None and not _allowed_module(module):
        name = entry.get("config") if class_name == "function" else class_name
        return f"`{module}.{name}` (module `{module}` is neither keras nor seq2seq)"
    if isinstance(registered, str) and ">" in registered:
        package = registered.split(">", 1)[0]
        if package not in ALLOWED_PACKAGES:
            return f"a registered object `{registered}` (package `{package}`)"
    return None


def _allowed_module(module: object) -> bool:
    if not isinstance(module, str):
        return False
    package = module.split(".", 1)[0]
    return package in ALLOWED_PACKAGES or module in ALLOWED_MODULES


def _is_bytecode(text: str) -> bool:
    """Whether `text` is base64 of a marshalled code object (type byte, then small ints)."""
    if not BASE64_TEXT.match(text):
        return False
    try:
        raw = base64.b64decode("".join(text.split())[:12])  # (9 bytes)
    except (binascii.Error, ValueError):
        return False
    # marshal writes the code type, then little-endian int32 counts (argcount, ...).
    return len(raw) == 9 and raw[0] in MARSHAL_CODE and raw[3:5] == raw[7:9] == b"\0\0"


def _is_seq2seq_entry(config: dict) -> bool:
    module = config.get("module")
    return (
        config.get("class_name") in MODEL_CLASSES
        and isinstance(module, str)
        and module.startswith("seq2seq.")
    )


def _expected_model(received: object) -> str:
    if not isinstance(received, str):
        received = "config.json without a model class"
    return (
        "expected a seq2seq model (SimpleSeq2Seq, Seq2Seq or AttentionSeq2Seq), "
        f"received a {received}"
    )


def _one_line(error: BaseException) -> str:
    text = str(error).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(error).__name__}: {first}" if first else type(error).__name__
