"""AveragedWeights: the average is validated and judged, the training goes on from the trained weights."""

import keras
import numpy as np
import pytest

from seq2seq.callbacks import AveragedWeights
from seq2seq.commands.train import seed_everything
from seq2seq.models import Seq2Seq


def _data():
    rng = np.random.default_rng(0)
    x = rng.random((48, 5, 3), dtype=np.float32)
    y = np.flip(x[:, :4, :2], axis=1).copy()
    return x[:40], y[:40], x[40:], y[40:]


def _model(use_ema):
    seed_everything(3)
    model = Seq2Seq(input_dim=3, hidden_dim=4, output_length=4, output_dim=2, seed=3)
    model.compile(optimizer=keras.optimizers.Adam(0.05, use_ema=use_ema, ema_momentum=0.5),
                  loss="mse")  # fmt: skip
    return model


class _Seen(keras.callbacks.Callback):
    """Records the weights and the logs that the callbacks after AveragedWeights see."""

    def __init__(self):
        super().__init__()
        self.weights, self.logs = [], []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())
        self.logs.append(dict(logs))


def _average(model):
    return [keras.ops.convert_to_numpy(v) for v in model.optimizer._model_variables_moving_average]


def test_training_goes_on_from_the_trained_weights_and_the_average_is_judged():
    x, y, x_val, y_val = _data()
    plain = _model(use_ema=False)
    averaged = _model(use_ema=True)
    seen = _Seen()
    for epoch in range(2):  # one fit per epoch, as TrainingRun calls it
        plain.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        averaged.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0,
                     validation_data=(x_val, y_val), callbacks=[AveragedWeights(), seen])  # fmt: skip
        # The trained weights are those of a run without an average ...
        for a, b in zip(averaged.get_weights(), plain.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
        # ... and the callbacks after AveragedWeights saw the average, which differs from them.
        average = _average(averaged)
        assert any(not np.allclose(a, w) for a, w in zip(average, averaged.get_weights()))
        by_name = {v.path: i for i, v in enumerate(averaged.weights)}
        for variable, value in zip(averaged.optimizer._trainable_variables, average):
            np.testing.assert_array_equal(seen.weights[epoch][by_name[variable.path]], value)
    # The validation loss is the average's.
    trained = averaged.get_weights()
    for variable, value in zip(averaged.optimizer._trainable_variables, _average(averaged)):
        variable.assign(value)
    expected = averaged.evaluate(x_val, y_val, batch_size=8, verbose=0)
    averaged.set_weights(trained)
    assert seen.logs[-1]["val_loss"] == pytest.approx(expected, rel=1e-5)


def test_an_optimizer_without_an_average_is_named():
    x, y, _, _ = _data()
    model = _model(use_ema=False)
    with pytest.raises(ValueError, match="use_ema=True. Received: use_ema=False"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[AveragedWeights()])
