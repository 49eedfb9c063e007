"""Trains each model with and without `keras.distribution.DataParallel`; prints JSON.

Run by `test_data_parallel.py` in a fresh process, because the number of JAX CPU devices
is fixed when JAX starts: the caller sets `--xla_force_host_platform_device_count`.
For each model it prints the largest weight difference after a few `fit` steps between
one device and the devices of a data-parallel mesh, and the collectives in the compiled
data-parallel train step.
"""

import json
import os
import re
import sys

os.environ["KERAS_BACKEND"] = "jax"

import seq2seq  # noqa: E402,F401  (before Keras: the backend and the heap settings)

# isort: split
import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

from seq2seq.models import AttentionSeq2Seq, Seq2Seq, SimpleSeq2Seq  # noqa: E402

BATCH, LENGTH, FEATURES, HIDDEN, VOCAB, STEPS = 8, 6, 3, 8, 11, 3
COLLECTIVES = ("all-gather", "all-reduce", "reduce-scatter", "all-to-all", "collective-permute")


def build(name):
    if name == "attention":
        model = AttentionSeq2Seq(
            input_vocab_size=VOCAB,
            output_vocab_size=VOCAB,
            embedding_dim=4,
            input_length=LENGTH,
            hidden_dim=HIDDEN,
            output_length=LENGTH,
        )
        model.compile(optimizer="adam")
        return model
    cls = SimpleSeq2Seq if name == "simple" else Seq2Seq
    model = cls(
        input_dim=FEATURES,
        input_length=LENGTH,
        hidden_dim=HIDDEN,
        output_length=LENGTH,
        output_dim=FEATURES,
    )
    model.compile(optimizer="adam", loss="mse")
    return model


def data(name):
    rng = np.random.default_rng(0)
    n = BATCH * STEPS
    if name == "attention":
        x = rng.integers(3, VOCAB, size=(n, LENGTH)).astype("int32")
        x[::2, -2:] = 0  # padded rows: the encoder's mask is sharded with the batch
        y = rng.integers(3, VOCAB, size=(n, LENGTH)).astype("int32")
        return [x, y], y
    x = rng.normal(size=(n, LENGTH, FEATURES)).astype("float32")
    y = rng.normal(size=(n, LENGTH, FEATURES)).astype("float32")
    return x, y


def train(name):
    keras.utils.set_random_seed(0)
    model = build(name)
    x, y = data(name)
    model(x[:1] if not isinstance(x, list) else [v[:1] for v in x])  # build the weights
    initial = [np.asarray(w) for w in model.get_weights()]
    model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    return model, initial, [np.asarray(w) for w in model.get_weights()]


def compiled_collectives(model, name, mesh):
    """Collectives in the train step compiled as Keras compiles it, on a sharded batch."""
    x, y = data(name)
    batch = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("batch"))
    inputs = [v[:BATCH] for v in x] if isinstance(x, list) else x[:BATCH]
    sharded = jax.device_put((inputs, y[:BATCH]), batch)
    state = (
        [v.value for v in model.trainable_variables],
        [v.value for v in model.non_trainable_variables],
        [v.value for v in model.optimizer.variables],
        [v.value for v in model.metrics_variables],
    )
    text = jax.jit(model.train_step).lower(state, sharded).compile().as_text()
    return {op: len(re.findall(rf"\b{op}(?:-start)?\(", text)) for op in COLLECTIVES}


def main(names):
    devices = jax.devices()
    report = {"devices": len(devices)}
    for name in names:
        keras.distribution.set_distribution(None)
        single_model, _, single = train(name)
        distribution = keras.distribution.DataParallel(devices=devices)
        keras.distribution.set_distribution(distribution)
        model, initial, parallel = train(name)
        report[name] = {
            "max_weight_difference": max(
                float(np.max(np.abs(a - b))) for a, b in zip(single, parallel)
            ),
            "max_weight_change": max(
                float(np.max(np.abs(a - b))) for a, b in zip(parallel, initial)
            ),
            "collectives": compiled_collectives(model, name, distribution.device_mesh.backend_mesh),
        }
        if name == "attention":
            # `generate` compiles its own loop: any batch size, sharded or not.
            x, _ = data(name)
            odd = x[0][: BATCH - 1]
            report[name]["generated_ids_equal"] = bool(
                np.array_equal(
                    np.asarray(model.generate(odd)["ids"]),
                    np.asarray(single_model.generate(odd)["ids"]),
                )
            )
        keras.distribution.set_distribution(None)
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1:] or ["simple", "seq2seq", "attention"])
