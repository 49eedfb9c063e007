"""Time to accuracy on 3-digit addition: Keras' `addition_rnn` example against this library.

Keras' example (keras-io `examples/nlp/addition_rnn.py`, rebuilt here with the same
data, model and training): 50,000 unique questions such as ``"535+61"`` padded with
spaces to 7 characters and reversed, one-hot over ``"0123456789+ "``, answers padded to
4 characters; 10 % held out for validation; ``LSTM(128) -> RepeatVector(4) ->
LSTM(128, return_sequences=True) -> TimeDistributed(Dense(12, softmax))``, Adam,
categorical cross-entropy, batch 32, one `fit` epoch at a time with the validation
loss, as in the example. After each epoch the clock pauses while the whole validation
split is predicted and its exact match (all 4 characters right) is measured; the
clock stops when it first reaches ``--keras-target`` (96 %).

This library: `seq2seq train --task addition`'s settings (`TASK_DEFAULTS["addition"]`,
seed 0): the task's train and validation splits, `seq2seq.commands.train.build_model`,
one `fit` epoch at a time with the validation loss (the same schedule as above, no
early stopping), then greedy decoding of the validation split and exact match of the
whole answer; the clock stops at ``--library-target`` (99 %).

Both run in this process on whatever ``KERAS_BACKEND`` is set (JAX by default), one
after the other. Prints the CPU model, the load average, both times and their ratio.
Run on demand, not part of the tests::

    python -m benchmarks.keras_addition_rnn
    python -m benchmarks.keras_addition_rnn --max-epochs 5     # a quick look
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time

import numpy as np

from benchmarks.common import load_average

DIGITS = 3
QUESTION_LENGTH = 2 * DIGITS + 1  # "345+678"
ANSWER_LENGTH = DIGITS + 1  # 999+999=1998
CHARACTERS = sorted("0123456789+ ")
QUESTIONS = 50_000
HIDDEN = 128
BATCH = 32


def cpu_model() -> str:
    """`lscpu`'s model name, or the platform's processor string."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        import platform

        return platform.processor() or "unknown"
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def keras_example_data(seed: int) -> tuple[np.ndarray, ...]:
    """The example's questions: unique unordered pairs, padded, reversed, one-hot, shuffled.

    Returns:
        `(x_train, y_train, x_val, y_val)` as bool one-hot arrays, 10 % for validation.
    """
    rng = np.random.default_rng(seed)
    index = {c: i for i, c in enumerate(CHARACTERS)}

    def number() -> int:
        return int("".join(rng.choice(list("0123456789"), size=rng.integers(1, DIGITS + 1))))

    questions, answers, seen = [], [], set()
    while len(questions) < QUESTIONS:
        a, b = number(), number()
        key = tuple(sorted((a, b)))
        if key in seen:
            continue
        seen.add(key)
        questions.append(f"{a}+{b}".ljust(QUESTION_LENGTH)[::-1])
        answers.append(str(a + b).ljust(ANSWER_LENGTH))

    def one_hot(texts: list[str], length: int) -> np.ndarray:
        out = np.zeros((len(texts), length, len(CHARACTERS)), dtype=bool)
        for row, text in enumerate(texts):
            out[row, np.arange(len(text)), [index[c] for c in text]] = True
        return out

    x, y = one_hot(questions, QUESTION_LENGTH), one_hot(answers, ANSWER_LENGTH)
    order = rng.permutation(len(x))
    x, y = x[order], y[order]
    split_at = len(x) - len(x) // 10
    return x[:split_at], y[:split_at], x[split_at:], y[split_at:]


def keras_example_model():
    """The example's encoder-repeat-decoder LSTM, compiled as the example does."""
    import keras
    from keras import layers

    model = keras.Sequential(
        [
            keras.Input((QUESTION_LENGTH, len(CHARACTERS))),
            layers.LSTM(HIDDEN),
            layers.RepeatVector(ANSWER_LENGTH),
            layers.LSTM(HIDDEN, return_sequences=True),
            layers.TimeDistributed(layers.Dense(len(CHARACTERS), activation="softmax")),
        ]
    )
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


def time_to_accuracy(
    fit_epoch, exact_match, target: float, max_epochs: int, max_seconds: float, label: str
) -> dict:
    """Trains epoch by epoch until `exact_match()` reaches `target`; the clock skips scoring.

    Returns:
        `{"seconds", "epochs", "exact_match", "reached"}`: the training time until the
        target was first reached (or until `max_epochs` or `max_seconds` of training),
        and the last exact match.
    """
    seconds = 0.0
    score = 0.0
    for epoch in range(1, max_epochs + 1):
        started = time.perf_counter()
        fit_epoch()
        seconds += time.perf_counter() - started
        score = exact_match()
        print(
            f"{label}: epoch {epoch}, {seconds:.0f} s of training, validation exact match "
            f"{100 * score:.2f} % (load average {load_average():.1f})",
            flush=True,
        )
        if score >= target or seconds >= max_seconds:
            break
    return {"seconds": seconds, "epochs": epoch, "exact_match": score, "reached": score >= target}


def run_keras_example(target: float, max_epochs: int, max_seconds: float, seed: int) -> dict:
    from seq2seq.commands.train import seed_everything

    seed_everything(seed)  # keras.utils.set_random_seed would import TensorFlow
    x_train, y_train, x_val, y_val = keras_example_data(seed)
    model = keras_example_model()
    answers = y_val.argmax(-1)

    def fit_epoch() -> None:
        model.fit(
            x_train, y_train, batch_size=BATCH, epochs=1, validation_data=(x_val, y_val), verbose=0
        )

    def exact_match() -> float:
        predicted = model.predict(x_val, batch_size=1024, verbose=0).argmax(-1)
        return float(np.mean(np.all(predicted == answers, axis=1)))

    return time_to_accuracy(
        fit_epoch, exact_match, target, max_epochs, max_seconds, "keras addition_rnn"
    )


def run_library(target: float, max_epochs: int, max_seconds: float, seed: int) -> dict:
    from seq2seq.commands import inference
    from seq2seq.commands.datasets import load_dataset
    from seq2seq.commands.train import build_model, seed_everything
    from seq2seq.config import resolve_settings
    from seq2seq.data.vocabulary import Vocabulary
    from seq2seq.metrics import exact_match as exact_match_of

    settings = resolve_settings({"seed": seed}, task="addition")
    settings["task"] = "addition"
    dataset = load_dataset(task="addition", max_examples=settings["max_examples"], seed=seed)
    train, validation = dataset.splits["train"], dataset.splits["validation"]
    sources = Vocabulary.build(train["sources"], level=dataset.source_level)
    targets = Vocabulary.build(train["targets"], level=dataset.target_level)
    output_length = max(len(targets.tokenize(text)) for text in train["targets"]) + 1
    shapes = {
        "input_vocab_size": len(sources),
        "output_vocab_size": len(targets),
        "output_length": output_length,
        "source_vocabulary": sources,
        "target_vocabulary": targets,
    }
    x = sources.encode(train["sources"])
    y = targets.encode(train["targets"], max_length=output_length)
    x_val = sources.encode(validation["sources"])
    y_val = targets.encode(validation["targets"], max_length=output_length)
    seed_everything(seed)
    steps_per_epoch = -(-len(x) // settings["batch_size"])
    model = build_model(settings, shapes, text=True, steps_per_epoch=steps_per_epoch)
    print(
        f"library: {type(model).__name__}, hidden {settings['hidden']}, batch "
        f"{settings['batch_size']}, lr {settings['learning_rate']}, {len(x):,} train / "
        f"{len(x_val):,} validation",
        flush=True,
    )

    def fit_epoch() -> None:
        model.fit(
            x, y, batch_size=settings["batch_size"], epochs=1, validation_data=(x_val, y_val),
            verbose=0,
        )  # fmt: skip

    def exact_match() -> float:
        predicted, _ = inference.predict_texts(model, validation["sources"])
        return exact_match_of(predicted, validation["references"])

    return time_to_accuracy(
        fit_epoch, exact_match, target, max_epochs, max_seconds, "library addition"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keras-target", type=float, default=0.96)
    parser.add_argument("--library-target", type=float, default=0.99)
    parser.add_argument("--max-epochs", type=int, default=100, help="give up after this many")
    parser.add_argument(
        "--max-seconds", type=float, default=float("inf"), help="per side, of training"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=("keras", "library"), help="run one side only")
    args = parser.parse_args(argv)
    # Both sides run with the heap settings of `seq2seq train`, set before Keras starts
    # its threads.
    from seq2seq.allocator import keep_heap

    keep_heap()

    import keras

    print(
        f"CPU: {cpu_model()}, {os.cpu_count()} cores; Keras {keras.__version__} on "
        f"{keras.backend.backend()}; load average at start {load_average():.1f}",
        flush=True,
    )
    results = {}
    if args.only != "library":
        results["keras"] = run_keras_example(
            args.keras_target, args.max_epochs, args.max_seconds, args.seed
        )
    if args.only != "keras":
        results["library"] = run_library(
            args.library_target, args.max_epochs, args.max_seconds, args.seed
        )
    targets = {"keras": args.keras_target, "library": args.library_target}
    for name, result in results.items():
        state = "reached" if result["reached"] else "NOT reached"
        print(
            f"{name}: {100 * targets[name]:.0f} % exact match {state} after "
            f"{result['epochs']} epochs, {result['seconds']:.0f} s of training "
            f"(last {100 * result['exact_match']:.2f} %)"
        )
    if len(results) == 2 and all(result["reached"] for result in results.values()):
        ratio = results["keras"]["seconds"] / results["library"]["seconds"]
        print(
            f"time to {100 * args.keras_target:.0f} % (Keras example) / time to "
            f"{100 * args.library_target:.0f} % (library) = {ratio:.2f}"
        )
    print(f"load average at the end {load_average():.1f} (times are upper bounds when > 0)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
