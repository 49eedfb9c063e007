"""The three seq2seq models."""

from seq2seq.conventions import MODEL_CLASS_NAMES
from seq2seq.models.attention_seq2seq import AttentionSeq2Seq
from seq2seq.models.base import Seq2SeqModel
from seq2seq.models.loading import load_model
from seq2seq.models.seq2seq import Seq2Seq
from seq2seq.models.simple_seq2seq import SimpleSeq2Seq

_BY_CLASS_NAME = {cls.__name__: cls for cls in (SimpleSeq2Seq, Seq2Seq, AttentionSeq2Seq)}
# The model class of each short name of `seq2seq.conventions.MODEL_NAMES` (`--model`).
MODEL_CLASSES = {name: _BY_CLASS_NAME[class_name] for name, class_name in MODEL_CLASS_NAMES.items()}

__all__ = [
    "MODEL_CLASSES",
    "AttentionSeq2Seq",
    "Seq2Seq",
    "Seq2SeqModel",
    "SimpleSeq2Seq",
    "load_model",
]
