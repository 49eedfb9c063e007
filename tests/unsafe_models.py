"""Model files that carry code, for the safe-loading tests of the library and the CLI.

Each file is built so that the code it carries, if it ever ran, would create a
marker file: a test asserts that the marker does not exist after the refusal.
"""

import base64
import json
import marshal
import os
import zipfile

import keras
import numpy as np

from seq2seq.data.vocabulary import Vocabulary
from seq2seq.models import AttentionSeq2Seq

SOURCES, TARGETS = ["abc", "hello", "dog"], ["cba", "olleh", "god"]


def save_text_model(path):
    """Saves a tiny trained `AttentionSeq2Seq` reversing three words; returns `(model, x)`."""
    source, target = Vocabulary.build(SOURCES), Vocabulary.build(TARGETS)
    x, y = source.encode(SOURCES), target.encode(TARGETS)
    model = AttentionSeq2Seq(
        input_vocab_size=len(source),
        output_vocab_size=len(target),
        embedding_dim=4,
        hidden_dim=8,
        input_length=None,
        output_length=y.shape[1],
        source_vocabulary=source,
        target_vocabulary=target,
    )
    model.compile(optimizer="adam")
    model.fit(x, y, epochs=1, verbose=0)
    model.save(path)
    return model, x


def touching_lambda(marker):
    """A lambda that creates `marker` when called, self-contained (the path is a constant
    of its code), so that it still works after a marshal round trip."""
    return eval(f"lambda x: (open({os.fspath(marker)!r}, 'w').close(), x)[1]")


def save_lambda_model(path, marker):
    """Saves a `keras.Sequential` with a `Lambda` layer that would create `marker`.

    Building the model calls the lambda, so the marker is removed after saving.
    """
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Lambda(touching_lambda(marker)), keras.layers.Dense(2)]
    )
    model.save(path)
    if os.path.exists(marker):
        os.remove(marker)


def lambda_entry(marker):
    """The `__lambda__` entry Keras writes for a lambda (marshalled bytecode)."""
    code = base64.encodebytes(marshal.dumps(touching_lambda(marker).__code__)).decode("ascii")
    return {"class_name": "__lambda__", "config": {"value": [code, None, None]}}


def read_config(path):
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("config.json"))


def rewrite_config(source, target, edit):
    """Copies the `.keras` archive `source` to `target` with `edit(config)` applied."""
    config = read_config(source)
    edit(config)
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            data = old.read(item.filename)
            if item.filename == "config.json":
                data = json.dumps(config).encode("utf-8")
            new.writestr(item, data)


def _lambda_layer(marker):
    return {
        "module": "keras.layers",
        "class_name": "Lambda",
        "config": {"name": "lambda", "function": lambda_entry(marker), "arguments": {}},
        "registered_name": None,
    }


def _set(key, value):
    def edit(config):
        config["config"][key] = value

    return edit


# Edits of a seq2seq model's config.json that make it carry code, and what the
# refusal names: `case: (edit(marker), found)`.
EDITS = {
    "lambda layer": (
        lambda marker: _set("output_activation", _lambda_layer(marker)),
        "a `Lambda` layer at `config.output_activation`",
    ),
    "python lambda": (
        lambda marker: _set("output_activation", lambda_entry(marker)),
        "a Python lambda (`__lambda__`) at `config.output_activation`",
    ),
    "module os": (
        lambda marker: _set(
            "output_activation",
            {"module": "os", "class_name": "function", "config": "system", "registered_name": None},
        ),
        "`os.system` (module `os` is neither keras nor seq2seq) at `config.output_activation`",
    ),
    "module subprocess": (
        lambda marker: _set(
            "source_vocabulary",
            {"module": "subprocess", "class_name": "Popen", "config": {"args": ["touch", "x"]}},
        ),
        "`subprocess.Popen` (module `subprocess` is neither keras nor seq2seq) "
        "at `config.source_vocabulary`",
    ),
    "function entry": (
        lambda marker: _set("output_activation", {"class_name": "__function__", "config": {}}),
        "a `__function__` entry at `config.output_activation`",
    ),
    "bytecode string": (
        lambda marker: _set("seed", lambda_entry(marker)["config"]["value"][0]),
        "Python bytecode at `config.seed`",
    ),
    "foreign registered name": (
        lambda marker: _set(
            "target_vocabulary",
            {
                "module": "seq2seq.data.vocabulary",
                "class_name": "Vocabulary",
                "config": {"tokens": ["a"], "level": "char"},
                "registered_name": "evil>Vocabulary",
            },
        ),
        "a registered object `evil>Vocabulary` (package `evil`) at `config.target_vocabulary`",
    ),
}


def truncate(source, target):
    """Writes the first half of `source` to `target`."""
    data = open(source, "rb").read()
    with open(target, "wb") as handle:
        handle.write(data[: len(data) // 2])


def garbage(target):
    """Writes random bytes to `target`."""
    with open(target, "wb") as handle:
        handle.write(np.random.default_rng(0).bytes(4096))


def save_dense_model(path):
    """Saves a `keras.Sequential` (not a seq2seq model)."""
    keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]).save(path)
