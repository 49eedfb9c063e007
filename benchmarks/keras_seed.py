"""The seed project's hand-built Keras Sequential model for SimpleSeq2Seq.

``LSTM(H) -> Dense(H, relu) -> RepeatVector(T) -> LSTM(H, return_sequences=True) ->
TimeDistributed(Dense(F))``, Adam(1e-3), MSE, float32, trained with ``model.fit`` on fixed
synthetic data on whatever ``KERAS_BACKEND`` is set (``jit_compile`` left at its default).
"""

from __future__ import annotations

from benchmarks.common import (
    BATCH,
    FEATURES,
    LENGTH,
    keras_fit_timing,
    keras_param_counts,
    synthetic_data,
)


def build(hidden: int, length: int = LENGTH, features: int = FEATURES, cell: str = "lstm"):
    import keras
    from keras import layers

    rnn = layers.LSTM if cell == "lstm" else layers.GRU
    model = keras.Sequential(
        [
            keras.Input((length, features)),
            rnn(hidden),
            layers.Dense(hidden, activation="relu"),
            layers.RepeatVector(length),
            rnn(hidden, return_sequences=True),
            layers.TimeDistributed(layers.Dense(features)),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="mse")
    return model


def time_training(
    model: str,
    hidden: int,
    steps: int,
    warmup: int,
    batch: int = BATCH,
    length: int = LENGTH,
    cell: str = "lstm",
    precision: str = "float32",
) -> dict:
    if model != "simple":
        raise ValueError("the seed's hand-built Keras model exists only for 'simple'")
    if precision != "float32":
        raise ValueError("the seed's Keras model is measured in float32 only")
    import keras

    from seq2seq.commands.train import seed_everything

    seed_everything(0)  # keras.utils.set_random_seed would import TensorFlow
    net = build(hidden, length, cell=cell)
    x, y = synthetic_data("simple", (warmup + steps) * batch, length)
    out = keras_fit_timing(net, x, y, steps, warmup, batch)
    out.update(keras_param_counts(net))
    out["backend"] = keras.backend.backend()
    return out
