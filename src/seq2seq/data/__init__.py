"""Vocabularies, file readers and built-in tasks.

`Vocabulary`, `SubwordVocabulary` and the id constants are loaded on first use,
because their modules import Keras (for the serialisation registry) and the
readers and tasks do not need it.
"""

import importlib

from seq2seq.data.errors import DataFileError
from seq2seq.data.readers import read_arrays, read_pairs
from seq2seq.data.tasks import TASKS, Task, get_task

_LAZY = {
    "Vocabulary": "seq2seq.data.vocabulary",
    "PAD_ID": "seq2seq.data.vocabulary",
    "START_ID": "seq2seq.data.vocabulary",
    "END_ID": "seq2seq.data.vocabulary",
    "UNK_ID": "seq2seq.data.vocabulary",
    "SubwordVocabulary": "seq2seq.data.subword_vocabulary",
}

__all__ = [
    "DataFileError",
    "END_ID",
    "PAD_ID",
    "START_ID",
    "SubwordVocabulary",
    "TASKS",
    "Task",
    "UNK_ID",
    "Vocabulary",
    "get_task",
    "read_arrays",
    "read_pairs",
]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
