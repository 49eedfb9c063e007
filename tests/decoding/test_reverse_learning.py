"""An AttentionSeq2Seq in token mode learns to reverse strings, in float32 and in mixed
bfloat16 precision; greedy and beam decode it."""

import time

import keras
import numpy as np
import pytest

from seq2seq.data import Vocabulary, get_task
from seq2seq.models import AttentionSeq2Seq

NUM_EXAMPLES = 8000  # 6400 train, 800 held out for test
EPOCHS = 8
BATCH_SIZE = 128


@pytest.mark.skipif(
    keras.config.backend() == "torch",
    reason="about 8 minutes of training on torch CPU (Python loop per recurrent step); "
    "runs on JAX and TensorFlow",
)
@pytest.mark.parametrize(
    "precision",
    [
        "float32",
        pytest.param(
            "mixed_bfloat16",
            marks=pytest.mark.skipif(
                keras.config.backend() != "jax",
                reason="one backend shows the learning; tests/models/test_mixed_precision.py "
                "runs the policy on every backend",
            ),
        ),
    ],
)
def test_attention_model_learns_to_reverse_strings(precision):
    splits = get_task("reverse").load(num_examples=NUM_EXAMPLES, seed=0)
    train, test = splits["train"], splits["test"]
    vocab = Vocabulary.build([source for source, _ in train], level="char")

    def encode(pairs):
        sources = vocab.encode([s for s, _ in pairs], max_length=15, add_end=False)
        return sources, vocab.encode([t for _, t in pairs], max_length=16)

    x_train, y_train = encode(train)
    x_test, _ = encode(test)
    references = [target for _, target in test]
    model = AttentionSeq2Seq(
        input_vocab_size=len(vocab),
        output_vocab_size=len(vocab),
        input_length=None,
        output_length=16,
        hidden_dim=32,
        embedding_dim=16,
        target_vocabulary=vocab,
        dtype=precision,
    )
    steps = EPOCHS * -(-len(x_train) // BATCH_SIZE)
    schedule = keras.optimizers.schedules.CosineDecay(0.01, steps, alpha=0.05)
    model.compile(optimizer=keras.optimizers.Adam(schedule, clipnorm=1.0))
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=BATCH_SIZE, epochs=EPOCHS, verbose=0)
    train_seconds = time.perf_counter() - start

    greedy = model.generate(x_test, return_text=True)["text"]
    beam = model.generate(x_test, strategy="beam", beam_width=4, return_text=True)["text"]
    greedy_accuracy = np.mean([a == b for a, b in zip(greedy, references)])
    beam_accuracy = np.mean([a == b for a, b in zip(beam, references)])
    print(
        f"reverse ({precision}): {len(references)} held-out strings, greedy exact match {greedy_accuracy:.4f}, "
        f"beam {beam_accuracy:.4f}, training {train_seconds:.1f} s"
    )
    assert greedy_accuracy >= 0.99
    assert beam_accuracy >= 0.99
