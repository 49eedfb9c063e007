"""The package's conventions, each defined once: reserved token ids, text levels, cell
and model names.

This module imports nothing of the package, so any module can import it without a
cycle.

>>> from seq2seq.conventions import END_ID, PAD_ID, START_ID
>>> (PAD_ID, START_ID, END_ID)
(0, 1, 2)
"""

# Reserved token ids, the first entries of every `Vocabulary`. Padding (id 0) is masked
# by the encoder and ignored by the token loss; decoding starts from `START_ID`, a
# sequence ends at `END_ID`, and neither padding nor the start id is ever generated.
PAD_ID = 0
START_ID = 1
END_ID = 2
UNK_ID = 3

# How a text splits into symbols. `Vocabulary` splits by rule, into characters or
# whitespace-separated words (the units of the error rates in `seq2seq.metrics` and
# of the built-in tasks); a subword vocabulary learns its pieces from the texts.
SPLIT_LEVELS = ("char", "word")
SUBWORD_LEVEL = "subword"
LEVELS = SPLIT_LEVELS + (SUBWORD_LEVEL,)
# What one symbol of each level is called in messages.
LEVEL_UNITS = {"char": "character", "word": "word", SUBWORD_LEVEL: "subword piece"}

# Recurrent cells, by name (`cell=`).
CELL_NAMES = ("lstm", "gru")

# The models, by their short names (the `model` setting of the command line), and the
# class each name stands for.
MODEL_CLASS_NAMES = {
    "simple": "SimpleSeq2Seq",
    "seq2seq": "Seq2Seq",
    "attention": "AttentionSeq2Seq",
}
MODEL_NAMES = tuple(MODEL_CLASS_NAMES)
