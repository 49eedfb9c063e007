"""A tiny attention model for the serving tests, and what `model.generate` gives."""

import numpy as np

from seq2seq.data import Vocabulary
from seq2seq.data.vocabulary import RESERVED_TOKENS
from seq2seq.models import AttentionSeq2Seq

SERVING_BACKEND = "torch"
VOCAB = Vocabulary(list("abcdef"))
WORDS = ["abc", "fedcba", "a", "bead", "faced", "cab", "deaf", "ebb"]


def tiny_model(cls=AttentionSeq2Seq, vocabulary=VOCAB, input_length=None):
    """A text model with hidden size 16 whose (untrained) outputs differ between inputs."""
    model = cls(
        input_vocab_size=len(vocabulary),
        output_vocab_size=len(vocabulary),
        input_length=input_length,
        output_length=8,
        hidden_dim=16,
        embedding_dim=8,
        seed=3,
        source_vocabulary=vocabulary,
        target_vocabulary=vocabulary,
    )
    first = vocabulary.decode([[len(RESERVED_TOKENS)]])[0]  # the first symbol after the reserved
    model.generate(vocabulary.encode([first], max_length=input_length))  # builds the weights
    # Larger weights make the outputs depend on the input (small ones give one token everywhere).
    model.set_weights([w * 4 for w in model.get_weights()])
    return model


def expected_output(model, text, beam=1):
    """What `model.generate` gives for `text` alone."""
    strategy = "beam" if beam > 1 else "greedy"
    result = model.generate(
        VOCAB.encode([text]), strategy=strategy, beam_width=beam, return_text=True
    )
    return result["text"][0], np.asarray(result["attention"][0])
