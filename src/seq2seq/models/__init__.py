"""The three seq2seq models."""

from seq2seq.models.attention_seq2seq import AttentionSeq2Seq
from seq2seq.models.base import Seq2SeqModel
from seq2seq.models.loading import load_model
from seq2seq.models.seq2seq import Seq2Seq
from seq2seq.models.simple_seq2seq import SimpleSeq2Seq

__all__ = ["AttentionSeq2Seq", "Seq2Seq", "Seq2SeqModel", "SimpleSeq2Seq", "load_model"]
