"""Loads saved models with `seq2seq.models.load_model` and writes their predictions.

Run by `test_cross_backend.py` in a fresh process whose `KERAS_BACKEND` differs from
the one that saved the models:

    KERAS_BACKEND=torch python cross_backend_predict.py FOLDER OUT.npz NAME...

For each NAME it loads `FOLDER/NAME.keras` and stores, under NAME in OUT.npz, the
greedy `generate` ids of a token model on `FOLDER/inputs.npz[NAME]` (and under
NAME_log_probs their log-probabilities), or the `predict` output of a real-valued model.
For a NAME with targets `inputs.npz[NAME_y]` it also loads the model compiled and
stores its optimizer step count and the loss of one more `fit` step on them.
"""

import os
import sys

import seq2seq  # noqa: F401  (before Keras: the backend and the heap settings)

# isort: split
import keras
import numpy as np

from seq2seq.models import load_model

if keras.backend.backend() == "torch":
    import torch

    torch.set_num_threads(1)


def main(folder, out, names):
    inputs = np.load(os.path.join(folder, "inputs.npz"))
    results = {}
    for name in names:
        model = load_model(os.path.join(folder, f"{name}.keras"))
        x = inputs[name]
        if model.token_mode:
            generated = model.generate(x)
            results[name] = generated["ids"]
            results[f"{name}_log_probs"] = generated["log_probs"]
        else:
            results[name] = model.predict(x, verbose=0)
        if f"{name}_y" in inputs:  # also train it further: compiled as saved
            model = load_model(os.path.join(folder, f"{name}.keras"), compile=True)
            results[f"{name}_iterations"] = int(model.optimizer.iterations)
            history = model.fit(x, inputs[f"{name}_y"], batch_size=len(x), verbose=0)
            results[f"{name}_fit_loss"] = history.history["loss"][0]
    np.savez(out, backend=keras.backend.backend(), **results)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
